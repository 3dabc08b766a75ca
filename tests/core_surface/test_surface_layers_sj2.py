"""The sj.layer modules completing SpikingJelly 2.0's surface: closed forms, the documented properties, and bad
input (wrong shapes, too many steps, invalid arguments) raising errors that name the problem."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sj import layer, neuron
from sj.base import StateShapeError, StepModeError
from sj.functional import reset_net

T, N = 3, 2


def test_max_unpool_bad_indices_and_rank():
    pool = nn.MaxPool2d(2, return_indices=True)
    y, idx = pool(torch.randn(T * N, 2, 4, 4))
    unpool = layer.MaxUnpool2d(2, step_mode="m")
    out = unpool(y.view(T, N, 2, 2, 2), idx.view(T, N, 2, 2, 2), (T, N, 2, 4, 4))  # a sequence shape is accepted
    assert out.shape == (T, N, 2, 4, 4)
    with pytest.raises(ValueError, match="indices must have the shape"):
        unpool(y.view(T, N, 2, 2, 2), idx[:1])
    with pytest.raises(StepModeError, match="5-D input"):
        unpool(y, idx)


def test_tebn_state_dict_is_spikingjellys():
    tebn = layer.TemporalEffectiveBatchNorm2d(T, 3)
    assert set(tebn.state_dict()) == {"weight", "bias", "scale", "running_mean", "running_var",
                                      "num_batches_tracked"}
    with pytest.raises(ValueError, match="T must be"):
        layer.TemporalEffectiveBatchNorm1d(0, 3)


def test_bntt_one_bn_per_step_and_too_many_steps():
    bntt = layer.BatchNormThroughTime1d(T, 4, step_mode="s")
    assert all(bn.bias is None for bn in bntt.bn_list) and "bn_list.0.bias" not in bntt.state_dict()
    x = torch.randn(T, 5, 4)
    with torch.no_grad():
        for t, bn in enumerate(bntt.bn_list):
            bn.weight.fill_(t + 1.0)
    ys = [bntt(xt) for xt in x]
    for t, (xt, yt) in enumerate(zip(x, ys, strict=True)):
        ref = F.batch_norm(xt, None, None, torch.full((4,), t + 1.0), None, training=True)
        torch.testing.assert_close(yt, ref)
    with pytest.raises(StateShapeError, match="T=3"):
        bntt(x[0])
    reset_net(bntt)
    bntt.step_mode = "m"
    assert bntt(x[:2]).shape == (2, 5, 4) and bntt.t == 1


def test_neunorm_closed_form_and_errors():
    nn_ = layer.NeuNorm(2, 3, 3, k=0.5, step_mode="m")
    s = (torch.rand(T, N, 2, 3, 3) > 0.5).float()
    x, ref = torch.zeros(N, 1, 3, 3), []
    for st in s:
        x = 0.5 * x + 0.5 / 4 * st.sum(1, keepdim=True)
        ref.append(st - nn_.w * x)
    torch.testing.assert_close(nn_(s), torch.stack(ref))
    with pytest.raises(StateShapeError):
        nn_(s[:, :1])
    reset_net(nn_)
    with pytest.raises(StepModeError, match="NeuNorm needs"):
        nn_(torch.zeros(T, N, 2, 4, 4))


def test_drop_connect_eval_matches_the_gaussian_moments_and_zero_variance():
    torch.manual_seed(0)
    dc = layer.DropConnectLinear(4, 3, p=0.3, samples_num=40000, activation=None).eval()
    x = torch.randn(2, 4)
    expected = 0.7 * F.linear(x, dc.weight, dc.bias)
    std = (0.21 * F.linear(x.square(), dc.weight.square(), dc.bias.square())).sqrt() / 200  # σ/√n
    assert ((dc(x) - expected).abs() < 5 * std).all()
    nobias = layer.DropConnectLinear(4, 3, bias=False).eval()
    assert torch.equal(nobias(torch.zeros(2, 4)), torch.zeros(2, 3))  # σ = 0: SpikingJelly's Normal raises here
    with pytest.raises(StepModeError, match=r"\[N, 4\]"):
        dc(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="p must be"):
        layer.DropConnectLinear(4, 3, p=1.0)


def test_drop_connect_invariant_masks_until_reset():
    dc = layer.DropConnectLinear(4, 3, p=0.5, invariant=True, activation=None)
    x = torch.randn(2, 4)
    y = dc(x)
    assert torch.equal(dc(x), y) and dc.dropped_w.shape == (2, 3, 4)
    with pytest.raises(StateShapeError, match="reset_net"):
        dc(torch.randn(5, 4))
    reset_net(dc)
    assert dc.mask_w is None


def test_slot_pair_equals_the_weight_layer_on_counts():
    """Expand counts, apply a bias-free Linear to each slot, sum the slots: the forward and both gradients equal the
    Linear on the counts."""
    counts = torch.randint(0, 4, (T, N, 5)).float().requires_grad_()
    lin = nn.Linear(5, 2, bias=False)
    expand, collect = layer.SpikeCountToBinary(3, True), layer.TemporalBinSum(3, True)
    spikes = expand(counts)
    assert spikes.shape == (T * 3, N, 5) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    y = collect(lin(spikes))
    torch.testing.assert_close(y, lin(counts))
    g = torch.randn_like(y)
    gx, gw = torch.autograd.grad(y, (counts, lin.weight), g)
    rx, rw = torch.autograd.grad(lin(counts), (counts, lin.weight), g)
    torch.testing.assert_close(gx, rx)
    torch.testing.assert_close(gw, rw)
    assert layer.SpikeCountToBinary(3).train()(counts) is counts  # identity in training by default
    with pytest.raises(ValueError, match="whole numbers"):
        expand(torch.full((T, N), 1.5))
    with pytest.raises(ValueError, match="whole numbers"):
        expand(torch.full((T, N), 4.0))
    with pytest.raises(StepModeError, match=r"\[T, N, \*\]"):
        collect(torch.zeros(3))
    with pytest.raises(ValueError, match="num_slots"):
        layer.TemporalBinSum(0)


def test_time_last_containers():
    x = torch.randn(N, 3, T)  # [N, C, T]
    bn = layer.TLastSeqToANNContainer(nn.BatchNorm1d(3))  # SpikingJelly's vmap refuses BatchNorm in training
    ref = nn.BatchNorm1d(3)(x.movedim(-1, 0).flatten(0, 1)).view(T, N, 3).movedim(0, -1)
    torch.testing.assert_close(bn(x), ref)
    f = layer.TLastMultiStepContainer(layer.SynapseFilter(2.0))
    ref_f = layer.SynapseFilter(2.0, step_mode="m")(x.movedim(-1, 0)).movedim(0, -1)
    torch.testing.assert_close(f(x), ref_f)
    with pytest.raises(TypeError, match="stateless"):
        layer.TLastSeqToANNContainer(layer.SynapseFilter())


def test_ws_conv_honours_padding_mode():
    """SpikingJelly's WSConv2d pads with zeros whatever padding_mode says; sj uses the mode."""
    conv = layer.WSConv2d(2, 3, 3, padding=1, padding_mode="reflect", gain=False)
    x = torch.randn(N, 2, 5, 5)
    w = conv.weight
    std_w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.var((1, 2, 3), keepdim=True) * 18 + 1e-4).sqrt()
    ref = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), std_w, conv.bias)
    torch.testing.assert_close(conv(x), ref)
    torch.testing.assert_close(conv.get_weight(), std_w)


def test_attention_arguments_and_ranks():
    with pytest.raises(ValueError, match="divisible"):
        layer.SpikingSelfAttention(6, num_heads=4)
    with pytest.raises(ValueError, match="qka_type"):
        layer.QKAttention(4, 2, qka_type="both")
    with pytest.raises(StepModeError, match="multi-step"):
        layer.TokenQKAttention(4, 2, step_mode="s")
    with pytest.raises(ValueError, match="reduction"):
        layer.TemporalWiseAttention(4, reduction=8)
    with pytest.raises(ValueError, match="kernel_size"):
        layer.MultiDimensionalAttention(4, 4, 2, 2, kernel_size=5)
    with pytest.raises(StepModeError, match=r"\[T, N, C, H, W\]"):
        layer.TemporalWiseAttention(4, 2)(torch.zeros(4, 2, 3))
    with pytest.raises(StepModeError, match=r"\[T, N, C, L\]"):
        layer.SpikingSelfAttention(4, 2)(torch.zeros(4, 2, 4, 2, 2))
    att = layer.SpikeDrivenSelfAttention(4, 2)
    assert isinstance(att.attn_lif, neuron.LIFNode) and att.attn_lif.v_threshold == 0.5
    with pytest.raises(StepModeError):
        layer.TemporalWiseAttention(4, 2).step_mode = "s"


def test_ottt_gradients_come_from_the_trace():
    lin = nn.Linear(3, 2)
    spike = torch.tensor([[1.0, 0.0, 1.0]], requires_grad=True)
    trace = torch.tensor([[0.5, 0.25, 2.0]], requires_grad=True)
    y = layer.GradwithTrace(lin)([spike, trace])
    torch.testing.assert_close(y, lin(spike))
    g = torch.tensor([[1.0, -2.0]])
    y.backward(g)
    torch.testing.assert_close(lin.weight.grad, g.T @ trace.detach())  # the weight sees the trace
    torch.testing.assert_close(spike.grad, g @ lin.weight.detach())
    torch.testing.assert_close(trace.grad, spike.grad)
    pooled = layer.SpikeTraceOp(nn.Tanh())([spike, trace])
    assert not pooled[1].requires_grad and pooled[0].requires_grad
    with pytest.raises(TypeError, match=r"\[spike, trace\]"):
        layer.GradwithTrace(lin)(spike)
    seq = layer.OTTTSequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
    out = seq([spike.detach(), trace.detach()])
    assert out.shape == (1, 1)
