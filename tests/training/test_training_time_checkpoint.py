"""TimeCheckpoint: same outputs, state and gradients as plain BPTT, with peak memory bounded by the segment length."""

import pytest
import torch
from _training_nets import conv_snn, loss_fn

from sj import layer, neuron
from sj.base import StepModeError
from sj.functional import reset_net
from sj.training import PeakMemory, TimeCheckpoint


def _pair(dtype=torch.float64, **kw):
    torch.manual_seed(0)
    plain, wrapped = conv_snn(**kw).to(dtype), conv_snn(**kw).to(dtype)
    wrapped.load_state_dict(plain.state_dict())
    return plain, wrapped


def _outputs_match(a, b, net, blas_bound, input_bound=1.0) -> bool:
    """The outputs come from the last Linear, which runs one GEMM of [T·N, K] unwrapped and one of [segment·N, K] per
    segment wrapped: BLAS may round those differently (``blas_bound``; its input is spikes, scaled by dropout). All
    before it is spikes, and float64 convolutions run one sample at a time on the CPU, so the rest is bit-equal."""
    return bool((a - b).abs().max() <= blas_bound(net[-1], input_bound))


def _step(net, x, target):
    out = net(x)
    loss_fn(out, target).backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize("segment", [1, 3, 4, 20])
def test_same_spikes_state_and_gradients(segment, blas_bound):
    plain, inner = _pair()
    x = torch.rand(10, 2, 1, 8, 8, dtype=torch.float64) * 2
    target = torch.tensor([0, 2])
    out_p, grads_p = _step(plain, x, target)
    out_w, grads_w = _step(TimeCheckpoint(inner, segment), x, target)
    assert out_p.abs().sum() > 0 and _outputs_match(out_w, out_p, plain, blas_bound)
    for i in (1, 4):  # membrane potentials after the sequence, left by forward, not changed by backward
        assert torch.equal(inner[i].v, plain[i].v)
    for gw, gp in zip(grads_w, grads_p, strict=True):
        assert gp.abs().sum() > 0
        torch.testing.assert_close(gw, gp, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cls", [neuron.IzhikevichNode, neuron.CUBALIFNode, neuron.ParametricLIFNode])
def test_aux_states_and_learnable_neuron_parameters(cls, blas_bound):
    plain, inner = _pair(neuron_cls=cls)
    x = torch.rand(7, 2, 1, 8, 8, dtype=torch.float64) * 2
    target = torch.tensor([1, 0])
    out_p, grads_p = _step(plain, x, target)
    out_w, grads_w = _step(TimeCheckpoint(inner, 2), x, target)
    assert _outputs_match(out_w, out_p, plain, blas_bound)
    for name, _ in plain[1].named_memories():
        a, b = getattr(plain[1], name), getattr(inner[1], name)
        assert (a is None and b is None) or torch.equal(a, b), name
    for gw, gp in zip(grads_w, grads_p, strict=True):
        torch.testing.assert_close(gw, gp, rtol=1e-10, atol=1e-13)


def test_shared_dropout_mask_is_the_same_in_every_segment_and_in_recomputation(blas_bound):
    plain, inner = _pair(dropout=True)
    x = torch.rand(8, 2, 1, 8, 8, dtype=torch.float64) * 2
    target = torch.tensor([1, 2])
    torch.manual_seed(5)
    out_p, grads_p = _step(plain, x, target)
    torch.manual_seed(5)
    out_w, grads_w = _step(TimeCheckpoint(inner, 3), x, target)
    assert _outputs_match(out_w, out_p, plain, blas_bound, input_bound=1 / (1 - 0.3))
    for gw, gp in zip(grads_w, grads_p, strict=True):
        torch.testing.assert_close(gw, gp, rtol=1e-10, atol=1e-13)


def test_state_carries_across_calls_like_the_plain_network(blas_bound):
    plain, inner = _pair()
    wrapped = TimeCheckpoint(inner, 2)
    x1, x2 = torch.rand(2, 5, 2, 1, 8, 8, dtype=torch.float64) * 2
    with torch.no_grad():
        plain(x1)
        wrapped(x1)
    assert _outputs_match(plain(x2), wrapped(x2), plain, blas_bound)
    reset_net(wrapped)
    assert inner[1].v == 0.0


def test_peak_memory_at_t64_is_under_a_quarter_of_plain_bptt():
    plain, inner = _pair(torch.float32, channels=8, size=16)
    x = torch.rand(64, 4, 1, 16, 16) * 2
    target = torch.tensor([0, 1, 2, 0])
    peaks, grads = [], []
    for net in (plain, TimeCheckpoint(inner, 8)):
        with PeakMemory() as mem:
            out = net(x)
            loss_fn(out, target).backward()
        peaks.append(mem.peak)
        grads.append([p.grad for p in net.parameters()])
    assert peaks[1] <= peaks[0] / 4, f"peak {peaks[1]} B with TimeCheckpoint vs {peaks[0]} B plain"
    for gw, gp in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(gw, gp, rtol=1e-4, atol=1e-6)


def test_batchnorm_in_training_mode_is_refused_and_eval_mode_works():
    net = torch.nn.Sequential(layer.Conv2d(1, 2, 3, step_mode="m"), layer.BatchNorm2d(2, step_mode="m"),
                              neuron.LIFNode(step_mode="m"))
    wrapped = TimeCheckpoint(net, 2)
    x = torch.rand(4, 2, 1, 5, 5)
    with pytest.raises(ValueError, match=r"BatchNorm2d '1' is in training mode"):
        wrapped(x)
    net[1].eval()
    assert wrapped(x).shape == (4, 2, 2, 3, 3)


def test_bad_arguments():
    net = neuron.LIFNode(step_mode="m")
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="segment_length"):
            TimeCheckpoint(net, bad)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        TimeCheckpoint(lambda x: x, 2)
    wrapped = TimeCheckpoint(net, 2)
    with pytest.raises(StepModeError, match=r"\[T, N, \*\]"):
        wrapped(torch.rand(3))
    with pytest.raises(StepModeError, match="T >= 1"):
        wrapped(torch.rand(0, 3))
    with pytest.raises(StepModeError, match="supports step modes"):
        wrapped.step_mode = "s"
