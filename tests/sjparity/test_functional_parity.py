"""sj.functional (its non-neuron part) against SpikingJelly 2.0.0: outputs and gradients on the same inputs.

SpikingJelly runs ``if_linear``/``lif_linear``, ``bit_pack_spike_dense``, ``packed_spike_linear`` and
``sparse_linear(strategy='sparse')`` on CUDA only; on this CPU they are checked against what SpikingJelly computes
them from: its IF/LIF neurons followed by a matrix product, its ``bit_spike_compress`` of each row, and
``strategy='torch'`` on binary spikes.
"""

import contextlib

import pytest
import torch
import torch.nn.functional as F
from oracle import spikingjelly
from torch import nn

from sj import functional, neuron


@pytest.fixture(scope="module")
def fl():
    return spikingjelly("activation_based.functional")


def _grads(fn, *inputs):
    """``fn(*inputs)`` and the gradients of a weighted sum of its outputs with respect to every input."""
    inputs = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out = fn(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    total = sum((o * torch.linspace(0.5, 1.5, o.numel()).view(o.shape)).sum() for o in outs)
    if not total.requires_grad:  # e.g. a delay past the end: all zeros, no graph
        return [o.detach() for o in outs], []
    grads = torch.autograd.grad(total, [x for x in inputs if x.requires_grad], allow_unused=True)
    return [o.detach() for o in outs], [g for g in grads if g is not None]


def _same(ours, theirs, atol=1e-5):
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1], strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=1e-5)


def test_sequence_forwards(fl):
    torch.manual_seed(0)
    lin = nn.Linear(4, 3)
    x = torch.randn(5, 2, 4)
    for name, mods in (("multi_step_forward", lin), ("multi_step_forward", [lin, nn.Tanh()]),
                       ("seq_to_ann_forward", nn.Sequential(lin, nn.ReLU())), ("seq_to_ann_forward", (lin, torch.sin))):
        _same(_grads(lambda v, name=name, mods=mods: getattr(functional, name)(v, mods), x),
              _grads(lambda v, name=name, mods=mods: getattr(fl, name)(v, mods), x))
    xt = torch.randn(2, 4, 5)  # [N, C, T]
    for name in ("t_last_multi_step_forward", "t_last_seq_to_ann_forward"):
        _same(_grads(lambda v, name=name: getattr(functional, name)(v, [lin, nn.Tanh()]), xt),
              _grads(lambda v, name=name: getattr(fl, name)(v, [lin, nn.Tanh()]), xt))
    # a tuple in (values, indices), a tuple out
    pool, unpool = nn.MaxPool1d(2, return_indices=True), nn.MaxUnpool1d(2)
    xs = torch.randn(3, 2, 1, 6)
    ours, theirs = (lib.seq_to_ann_forward(lib.seq_to_ann_forward(xs, pool), unpool) for lib in (functional, fl))
    torch.testing.assert_close(ours, theirs)
    net = nn.Sequential(nn.Linear(4, 3), neuron.IFNode(step_mode="m", v_threshold=0.3))
    outs = []
    for fn in (functional.chunk_multi_step_forward, fl.chunk_multi_step_forward):
        functional.reset_net(net)
        outs.append(fn(2, x, net))
    torch.testing.assert_close(outs[0], outs[1])


def test_misc(fl):
    labels = torch.tensor([2, 0, 1, 2])
    torch.testing.assert_close(functional.redundant_one_hot(labels, 3, 2), fl.redundant_one_hot(labels, 3, 2))
    x = torch.randn(5, 2, 3)
    for d in (0, 1, 3, 5, 7):
        _same(_grads(lambda v, d=d: functional.delay(v, d), x), _grads(lambda v, d=d: fl.delay(v, d), x))
    s = (torch.rand(3, 4, 8) < 0.3).float()
    assert torch.equal(functional.first_spike_index(s), fl.first_spike_index(s))
    sjn = spikingjelly("activation_based.neuron")
    label = F.one_hot(torch.tensor([1, 0, 2]), 3).float()
    inp = torch.rand(3, 3) * 2
    for training in (True, False):
        ours, theirs = neuron.IFNode(), sjn.IFNode()
        ours.train(training)
        theirs.train(training)
        functional.set_threshold_margin(ours, label, 1.2, 0.8, 1.5)
        fl.set_threshold_margin(theirs, label, 1.2, 0.8, 1.5)
        threshold = torch.as_tensor(theirs.v_threshold, dtype=torch.float32)
        torch.testing.assert_close(ours.v_threshold, threshold)
        # SpikingJelly's own IFNode cannot run with the [N, C] threshold it sets (its op takes a float): closed form
        torch.testing.assert_close(ours(inp), (inp >= threshold).float())


def test_reset_helpers(fl):
    class Counter(nn.Module):  # not a MemoryModule: both libraries still call its reset() and warn
        def __init__(self):
            super().__init__()
            self.calls = 0

        def reset(self):
            self.calls += 1

    for lib in (functional, fl):
        counter, node = Counter(), neuron.IFNode()
        net = nn.Sequential(nn.Linear(2, 2), node, counter)
        assert lib.collect_reset_modules(net) == (node, counter)
        node(torch.ones(1, 2) * 2)
        with pytest.warns(UserWarning) if lib is functional else contextlib.nullcontext():
            lib.reset_net(net)
        assert counter.calls == 1 and node.v == 0.0
        net.append(extra := neuron.IFNode())  # a module added later is reset too (SJ: after invalidate_reset_cache)
        extra(torch.ones(1, 2) * 0.5)
        lib.invalidate_reset_cache(net)
        with pytest.warns(UserWarning) if lib is functional else contextlib.nullcontext():
            lib.reset_collected_modules(lib.collect_reset_modules(net))
        assert extra.v == 0.0 and counter.calls == 2


def test_layer_steps(fl):
    torch.manual_seed(1)
    s, state, w = (torch.rand(2, 3, 4, 4) < 0.5).float(), torch.rand(2, 1, 4, 4), torch.rand(3, 4, 4)
    _same(_grads(lambda a, b, c: functional.neunorm_step(a, b, c, 0.9, 0.3), s, state, w),
          _grads(lambda a, b, c: fl.neunorm_step(a, b, c, 0.9, 0.3), s, state, w))
    x, i = (torch.rand(3, 5) < 0.5).float(), torch.rand(3, 5)
    for rtau in (0.1, torch.tensor(0.3)):
        _same(_grads(lambda a, b, r=rtau: functional.synapse_filter_step(a, b, r), x, i),
              _grads(lambda a, b, r=rtau: fl.synapse_filter_step(a, b, r), x, i))
    for d in (0, 1, 3):
        qo, qt = (), ()
        for t in range(5):
            xt = torch.full((2,), float(t + 1))
            (yo, qo), (yt, qt) = functional.delay_step(xt, qo, d), fl.delay_step(xt, qt, d)
            torch.testing.assert_close(yo, yt)
            assert len(qo) == len(qt)


def test_losses(fl):
    torch.manual_seed(2)
    spikes = (torch.rand(4, 3, 5) < 0.5).float()
    labels = torch.tensor([[1, 0], [1, 0], [0, 1], [1, 1]])
    kernels = {"linear": (), "polynomial": (2,), "sigmoid": (0.3,), "gaussian": (2.0,)}
    for kernel, args in kernels.items():
        x, y = torch.randn(4, 6), torch.randn(4, 6)
        _same(_grads(lambda a, b, k=kernel, p=args: functional.kernel_dot_product(a, b, k, *p), x, y),
              _grads(lambda a, b, k=kernel, p=args: fl.kernel_dot_product(a, b, k, *p), x, y))
        soft = spikes * torch.rand_like(spikes)  # non-binary too, so the gradient is exercised
        for loss in ("mse", "l1", "bce"):
            if loss == "bce" and kernel == "polynomial":  # similarities above 1: both refuse
                with pytest.raises(ValueError, match="bce"):
                    functional.spike_similar_loss(spikes, labels, kernel, loss, *args)
                with pytest.raises(RuntimeError):
                    fl.spike_similar_loss(spikes, labels, kernel, loss, *args)
                continue
            if loss == "bce" and kernel == "linear":  # SpikingJelly fails, see below
                continue
            _same(*(_grads(lambda s, lib=lib, k=kernel, p=args, lt=loss: lib.spike_similar_loss(s, labels, k, lt, *p),
                           soft) for lib in (functional, fl)))
    # SpikingJelly is wrong here: the cosine of a binary train with itself rounds to 1 + 2^-23 and its bce fails
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        fl.spike_similar_loss(spikes, labels, "linear", "bce")
    flat = spikes.flatten(1)
    cos = (flat @ flat.t()) / (flat.norm(dim=1, keepdim=True) @ flat.norm(dim=1, keepdim=True).t() + 1e-8)
    sim = (labels @ labels.t()).clamp_max(1).float()
    torch.testing.assert_close(functional.spike_similar_loss(spikes, labels, "linear", "bce"),
                               F.binary_cross_entropy(cos.clamp(0, 1), sim))
    for shape, target in (((4, 3, 5), torch.tensor([0, 4, 2])), ((4, 3, 5, 2), torch.randint(0, 5, (3, 2)))):
        x = torch.randn(shape)
        _same(_grads(lambda v, y=target: functional.temporal_efficient_training_cross_entropy(v, y), x),
              _grads(lambda v, y=target: fl.temporal_efficient_training_cross_entropy(v, y), x))


@pytest.mark.parametrize("shape", [(13,), (3, 5, 7), (4, 8), (0,)])
def test_bit_spike_compress_round_trip(fl, shape):
    torch.manual_seed(3)
    spikes = (torch.rand(shape) < 0.4).float() * torch.randint(1, 3, shape)  # nonzero = 1
    packed = functional.bit_spike_compress(spikes)
    assert torch.equal(packed, fl.bit_spike_compress(spikes))
    for dtype in (torch.uint8, torch.float32, torch.bool):
        got = functional.bit_spike_decompress(packed, shape, dtype)
        assert got.dtype == dtype and torch.equal(got, fl.bit_spike_decompress(packed, shape, dtype))
        assert torch.equal(got, (spikes != 0).to(dtype))
    if len(shape) == 3:  # non-contiguous input
        assert torch.equal(functional.bit_spike_compress(spikes.transpose(0, 2)),
                           fl.bit_spike_compress(spikes.transpose(0, 2)))


def test_row_packing_and_spike_linears(fl):
    torch.manual_seed(4)
    spikes = (torch.rand(5, 11) < 0.5).float()
    packed = functional.bit_pack_spike_dense(spikes)
    assert packed.shape == (5, 2)
    for row, ours in zip(spikes, packed):
        assert torch.equal(ours, fl.bit_spike_compress(row > 0.5))
    unpacked = fl.bit_spike_decompress(packed.flatten(), (5, 16), torch.float32)[:, :11]  # rows padded to 16 bits
    assert torch.equal(unpacked, spikes)
    w, b = torch.randn(3, 11), torch.randn(3)
    _same(_grads(lambda ww, bb: functional.packed_spike_linear(packed, ww, bb), w, b),
          _grads(lambda ww, bb: F.linear(unpacked, ww, bb), w, b))
    for strategy in ("torch", "sparse"):
        _same(_grads(lambda s, ww, bb, st=strategy: functional.sparse_linear(s, ww, bb, st), spikes, w, b),
              _grads(lambda s, ww, bb: fl.sparse_linear(s, ww, bb, "torch"), spikes, w, b))


@pytest.mark.parametrize("kind", ["if", "lif"])
@pytest.mark.parametrize("v_reset,detach_reset", [(0.0, False), (None, False), (-0.1, True)])
def test_if_and_lif_linear_equal_spikingjelly_neuron_then_linear(kind, v_reset, detach_reset):
    sjn = spikingjelly("activation_based.neuron")
    sjs = spikingjelly("activation_based.surrogate")
    from sj import surrogate

    torch.manual_seed(5)
    x, v, w, b = torch.randn(4, 3, 6) * 0.8, torch.rand(3, 6) * 0.5, torch.randn(6, 2), torch.randn(2)
    kw = {"v_threshold": 0.6, "v_reset": v_reset, "detach_reset": detach_reset}
    lif = {"tau": 3.0, "decay_input": False} if kind == "lif" else {}

    def ours(xx, vv, ww, bb):
        fn = functional.lif_linear if kind == "lif" else functional.if_linear
        return fn(xx, vv, ww, bb, surrogate_function=surrogate.ATan(alpha=3.0), **kw, **lif)

    def theirs(xx, vv, ww, bb):
        node = (sjn.LIFNode if kind == "lif" else sjn.IFNode)(surrogate_function=sjs.ATan(alpha=3.0), step_mode="m",
                                                               **kw, **lif)
        node.v = vv
        return node(xx) @ ww + bb, node.v

    _same(_grads(ours, x, v, w, b), _grads(theirs, x, v, w, b))
    # one step [M, K]
    _same(_grads(lambda xx, vv, ww, bb: ours(xx.unsqueeze(0), vv, ww, bb), x[0], v, w, b),
          _grads(lambda xx, vv, ww, bb: theirs(xx.unsqueeze(0), vv, ww, bb), x[0], v, w, b))


def test_network_helpers(fl):
    from sj import layer

    def net():
        return nn.Sequential(layer.Conv2d(2, 3, 3), layer.BatchNorm2d(3), neuron.IFNode(), layer.Flatten(),
                             layer.Linear(12, 2))

    nets = []
    for lib in (functional, fl):
        torch.manual_seed(6)
        n = net()
        lib.kaiming_normal_conv_linear_weight(n)
        lib.set_step_mode(n, "m")
        nets.append(n)
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b)
    assert [getattr(m, "step_mode", None) for m in nets[0].modules()] == \
        [getattr(m, "step_mode", None) for m in nets[1].modules()]
    x = torch.rand(3, 1, 2, 4, 4, requires_grad=True)
    for n, lib in zip(nets, (functional, fl)):
        n(x).sum().backward(retain_graph=True)
        assert n[2].v.grad_fn is not None
        lib.detach_net(n)
        assert n[2].v.grad_fn is None
