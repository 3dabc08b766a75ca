"""sj.functional's SpikingJelly surface beyond the parity tests: bad input gives a clear error, sj's extensions
(any device/dtype for packing, dilation in the STDP steps, reset without a cache), closed forms and gradchecks."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sj import functional, layer, learning, neuron, surrogate
from sj.base import StepModeError


def test_sequence_helpers_refuse_bad_input():
    with pytest.raises(StepModeError, match=r"\[T, N, \*\]"):
        functional.multi_step_forward(torch.ones(3), nn.Identity())
    with pytest.raises(TypeError, match="tensor"):
        functional.multi_step_forward([1, 2], nn.Identity())
    with pytest.raises(ValueError, match="split_size"):
        functional.chunk_multi_step_forward(0, torch.ones(4, 2), nn.Identity())
    with pytest.raises(ValueError, match="share"):
        functional.seq_to_ann_forward((torch.ones(2, 3, 1), torch.ones(3, 3, 1)), torch.add)
    x = torch.randn(2, 3, 4)  # [N, C, T]: each step independently through the module
    lin = nn.Linear(3, 5)
    torch.testing.assert_close(functional.t_last_seq_to_ann_forward(x, lin),
                               torch.stack([lin(x[..., t]) for t in range(4)], -1))


def test_chunked_run_equals_one_run_of_a_stateful_network():
    net = nn.Sequential(layer.Linear(3, 2), neuron.LIFNode(step_mode="m"))
    functional.set_step_mode(net, "m")
    x = torch.randn(7, 2, 3)
    whole = net(x)
    functional.reset_net(net)
    torch.testing.assert_close(functional.chunk_multi_step_forward(3, x, net), whole)


def test_reset_net_reaches_modules_added_later_without_invalidating():
    net = nn.Sequential(neuron.IFNode())
    functional.reset_net(net)
    late = neuron.IFNode()
    net.append(late)
    late(torch.full((1, 2), 0.5))
    functional.reset_net(net)  # SpikingJelly would reuse its cached list here and skip `late`
    assert late.v == 0.0
    with pytest.raises(TypeError, match=r"nn\.Module"):
        functional.invalidate_reset_cache("net")


def test_misc_bad_input():
    with pytest.raises(ValueError, match="delay_steps"):
        functional.delay(torch.ones(3, 2), -1)
    with pytest.raises(ValueError, match="delay_steps"):
        functional.delay_step(torch.ones(2), (), 1.5)
    with pytest.raises(ValueError, match="n must be"):
        functional.redundant_one_hot(torch.tensor([0]), 2, 0)
    with pytest.raises(TypeError, match="v_threshold"):
        functional.set_threshold_margin(nn.Linear(2, 2), torch.eye(2))
    with pytest.raises(ValueError, match="threshold1"):
        functional.set_threshold_margin(neuron.IFNode(), torch.eye(2), threshold1=math.nan)
    with pytest.raises(ValueError, match=r"\[N, 1, H, W\]"):
        functional.neunorm_step(torch.ones(2, 3, 4, 4), torch.ones(2, 3, 4, 4), torch.ones(1), 0.9, 0.1)
    node = neuron.IFNode()
    node.eval()
    functional.set_threshold_margin(node, torch.eye(2), eval_threshold=0.7)
    assert node.v_threshold.item() == pytest.approx(0.7)


def test_synapse_filter_step_closed_form():
    i = torch.tensor([2.0, 2.0])
    x = torch.tensor([0.0, 1.0])  # no spike: decays by 1/τ; a spike: adds x, no decay
    torch.testing.assert_close(functional.synapse_filter_step(x, i, 0.25), torch.tensor([1.5, 3.0]))


@pytest.mark.parametrize("shape", [(3, 17), (1,), (2, 3, 4)])
def test_packing_round_trips_and_bit_order(shape):
    torch.manual_seed(0)
    s = (torch.rand(shape) < 0.5).float()
    packed = functional.bit_spike_compress(s)
    assert packed.dtype == torch.uint8 and packed.numel() == (s.numel() + 7) // 8
    assert torch.equal(functional.bit_spike_decompress(packed, shape, torch.float32), s)
    first = s.flatten()[:8]
    assert packed[0].item() == int(sum(int(b) << i for i, b in enumerate(first.tolist())))  # LSB first
    if len(shape) == 2:
        rows = functional.bit_pack_spike_dense(s)
        for r, row in zip(rows, s):
            assert torch.equal(r, functional.bit_spike_compress(row))


def test_packing_bad_input():
    with pytest.raises(ValueError, match="cannot hold"):
        functional.bit_spike_decompress(torch.zeros(2, dtype=torch.uint8), (3, 8))
    with pytest.raises(ValueError, match="1-D uint8"):
        functional.bit_spike_decompress(torch.zeros(2), (8,))
    with pytest.raises(ValueError, match="2-D"):
        functional.bit_pack_spike_dense(torch.ones(3))
    with pytest.raises(TypeError, match="float"):
        functional.bit_pack_spike_dense(torch.ones(2, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="K=9"):
        functional.packed_spike_linear(torch.zeros(2, 1, dtype=torch.uint8), torch.ones(3, 9))
    with pytest.raises(ValueError, match="bias"):
        functional.packed_spike_linear(torch.zeros(2, 1, dtype=torch.uint8), torch.ones(3, 8), torch.ones(2))
    with pytest.raises(ValueError, match="strategy"):
        functional.sparse_linear(torch.ones(2, 3), torch.ones(4, 3), strategy="csr")
    with pytest.raises(ValueError, match="dtype"):
        functional.sparse_linear(torch.ones(2, 3), torch.ones(4, 3, dtype=torch.float64), strategy="sparse")


def test_packed_linear_accumulates_half_weights_in_float32_and_grads_only_weights():
    torch.manual_seed(1)
    s = (torch.rand(4, 20) < 0.5).float()
    w = torch.randn(3, 20, dtype=torch.bfloat16, requires_grad=True)
    y = functional.packed_spike_linear(functional.bit_pack_spike_dense(s), w)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, (s @ w.float().t()).to(torch.bfloat16))
    y.float().sum().backward()
    torch.testing.assert_close(w.grad.float(), s.sum(0).expand(3, 20))


def test_if_linear_closed_form_gradcheck_and_bad_input():
    torch.manual_seed(2)
    x, v = torch.randn(3, 2, 4, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
    w, b = torch.randn(4, 3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    v_before = v.clone()
    y, v_final = functional.if_linear(x, v, w, b, v_threshold=0.5, v_reset=None)
    h, spikes = v.clone(), []
    for xt in x:  # soft-reset IF by hand
        h = h + xt
        s = (h >= 0.5).double()
        h = h - 0.5 * s
        spikes.append(s)
    torch.testing.assert_close(y, torch.stack(spikes) @ w + b)
    torch.testing.assert_close(v_final, h)
    assert torch.equal(v, v_before)  # not modified in place
    # the spikes do not depend on the weight, so its gradient is exact
    assert torch.autograd.gradcheck(lambda ww, bb: functional.lif_linear(x, v, ww, bb, tau=3.0)[0],
                                    (w.requires_grad_(), b.requires_grad_()))
    with pytest.raises(ValueError, match=r"v must be \[M, K\]"):
        functional.if_linear(x, torch.zeros(3, 4), w)
    with pytest.raises(ValueError, match="weight_t"):
        functional.if_linear(x, v, w.t())
    with pytest.raises(ValueError, match="threads"):
        functional.if_linear(x, v, w, threads=100)
    with pytest.raises(ValueError, match="spiking=True"):
        functional.if_linear(x, v, w, surrogate_function=surrogate.Sigmoid(spiking=False))
    with pytest.raises(ValueError, match="tau"):
        functional.lif_linear(x, v, w, tau=0.5)


def test_stdp_steps_bad_input_none_traces_and_dilation():
    w = torch.rand(2, 3)
    pre, post = torch.ones(4, 3), torch.ones(4, 2)
    kw = {"tau_pre": 2.0, "tau_post": 2.0}
    zeros = (torch.zeros(4, 3), torch.zeros(4, 2))
    for a, b in zip(functional.stdp_linear_step(pre, post, (None, None), w, **kw)[0],
                    functional.stdp_linear_step(pre, post, zeros, w, **kw)[0]):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="2-D"):
        functional.stdp_linear_step(pre[0], post[0], (None, None), w, **kw)
    with pytest.raises(ValueError, match="do not match"):
        functional.stdp_linear_step(pre, torch.ones(4, 3), (None, None), w, **kw)
    with pytest.raises(ValueError, match="reset the traces"):
        functional.stdp_linear_step(pre, post, (torch.zeros(5, 3), None), w, **kw)
    with pytest.raises(ValueError, match="tau_pre"):
        functional.stdp_linear_step(pre, post, (None, None), w, tau_pre=math.nan, tau_post=2.0)
    with pytest.raises(ValueError, match="unbatched"):
        functional.mstdpet_linear_step(pre, post, (None, None), w, **kw)
    wc = torch.rand(2, 3, 3, 3)
    with pytest.raises(ValueError, match="expected"):
        functional.stdp_conv2d_step(torch.ones(1, 3, 6, 6), torch.ones(1, 2, 3, 3), (None, None), wc, stride=1, **kw)
    with pytest.raises(ValueError, match="stride"):
        functional.stdp_conv2d_step(torch.ones(1, 3, 6, 6), torch.ones(1, 2, 4, 4), (None, None), wc, stride=0, **kw)
    # dilation (an sj extension) equals STDP on the zero-stuffed kernel
    conv = nn.Conv2d(3, 2, 3, dilation=2, bias=False)
    big = nn.Conv2d(3, 2, 5, bias=False)
    with torch.no_grad():
        big.weight.zero_()
        big.weight[:, :, ::2, ::2] = conv.weight
    x = (torch.rand(2, 3, 7, 7) < 0.5).float()
    y = (torch.rand(2, 2, 3, 3) < 0.5).float()
    dw, _ = functional.stdp_conv2d_step(x, y, (None, None), conv.weight.detach(), stride=1, dilation=2,
                                        f_pre=torch.ones_like, f_post=torch.ones_like, **kw)
    dw_big, _ = functional.stdp_conv2d_step(x, y, (None, None), big.weight.detach(), stride=1,
                                            f_pre=torch.ones_like, f_post=torch.ones_like, **kw)
    torch.testing.assert_close(dw, dw_big[:, :, ::2, ::2])
    sn = neuron.IFNode(v_threshold=0.1)  # the learner of a dilated conv runs the same rule
    learner = learning.STDPLearner("s", conv, sn, 2.0, 2.0)
    post = sn(conv(x))
    expected, _ = functional.stdp_conv2d_step(x, post, (None, None), conv.weight.detach(), stride=1, dilation=2, **kw)
    torch.testing.assert_close(learner.step(on_grad=False), expected)


def test_online_training_bad_input_and_fptt_closed_form_first_step():
    from sj.learning import online_learning as ol

    net = nn.Sequential(nn.Linear(2, 1))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x, target = torch.randn(3, 4, 2), torch.randn(3, 4, 1)
    w_ra = ol.fptt_online_training_init_w_ra(opt)
    with pytest.raises(ValueError, match="alpha"):
        ol.fptt_online_training(net, opt, x, target, F.mse_loss, 0.0, w_ra)
    with pytest.raises(ValueError, match="w_ra"):
        ol.fptt_online_training(net, opt, x, target, F.mse_loss, 0.5, w_ra[:1])
    with pytest.raises(ValueError, match="equal leading"):
        ol.ottt_online_training(net, opt, x, target[:, :2], F.mse_loss, True)
    with pytest.raises(ValueError, match="no time steps"):
        ol.ottt_online_training(net, opt, x[:, :0], target[:, :0], F.mse_loss, True)
    # one FPTT step on a stateless linear model: plain SGD on loss + α/2·mse(W, W_ra) with W_ra = W: the regulariser
    # has zero gradient at the start, so the update is the plain loss's
    w0 = [p.detach().clone() for p in net.parameters()]
    ref = nn.Sequential(nn.Linear(2, 1))
    ref.load_state_dict(net.state_dict())
    F.mse_loss(ref(x[0]), target[0]).backward()
    ol.fptt_online_training(net, opt, x[:1], target[:1], F.mse_loss, 0.5, w_ra)
    for p, p0, r in zip(net.parameters(), w0, ref.parameters()):
        torch.testing.assert_close(p.detach(), p0 - 0.5 * r.grad)
