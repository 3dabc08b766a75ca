"""sj.layer containers, recurrent containers, Delay, SynapseFilter, VotingLayer, tdBN/TEBN."""

import pytest
import torch
from torch import nn

from sj import layer, neuron
from sj.base import StateShapeError, StepModeError
from sj.functional import reset_net

T, N = 4, 3


def test_seq_to_ann_container_folds_time():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)
    c = layer.SeqToANNContainer(conv, bn)
    x = torch.randn(T, N, 2, 5, 5)
    ref = bn(conv(x.flatten(0, 1))).view(T, N, 3, 3, 3)
    torch.testing.assert_close(c(x), ref)
    c.step_mode = "s"
    torch.testing.assert_close(c(x[0]), bn(conv(x[0])))


def test_seq_to_ann_container_rejects_stateful_and_multi_step_children():
    with pytest.raises(TypeError, match=r"stateless.*LIFNode"):
        layer.SeqToANNContainer(nn.Linear(2, 2), neuron.LIFNode())
    with pytest.raises(TypeError, match="sub-module"):
        layer.SeqToANNContainer(nn.Sequential(nn.Linear(2, 2), layer.Dropout()))
    c = layer.SeqToANNContainer(layer.Linear(2, 2, step_mode="m"))
    with pytest.raises(StepModeError, match=r"child '0'.*step_mode='m'"):
        c(torch.randn(T, N, 2))
    with pytest.raises(StepModeError, match=r"needs input \[T, N"):
        layer.SeqToANNContainer(nn.Linear(2, 2))(torch.randn(2))


def test_multi_step_container_equals_hand_loop():
    torch.manual_seed(0)
    fc, lif = nn.Linear(4, 3), neuron.LIFNode(tau=2.0)
    c = layer.MultiStepContainer(fc, lif)
    x = torch.randn(T, N, 4) * 6
    y = c(x)
    reset_net(c)
    ref = torch.stack([lif(fc(xt)) for xt in x])
    torch.testing.assert_close(y, ref)
    assert y.sum() > 0
    lif.step_mode = "m"
    reset_net(c)
    with pytest.raises(StepModeError, match="LIFNode"):
        c(x)


@pytest.mark.parametrize("stateful", [True, False])
def test_step_mode_container(stateful):
    torch.manual_seed(0)
    mods = (nn.Linear(4, 3), neuron.IFNode()) if stateful else (nn.Linear(4, 3), nn.ReLU())
    c = layer.StepModeContainer(stateful, *mods, step_mode="m")
    x = torch.randn(T, N, 4) * 2
    y = c(x)
    reset_net(c)
    ref = torch.stack([mods[1](mods[0](xt)) for xt in x])
    torch.testing.assert_close(y, ref)
    with pytest.raises(TypeError, match="stateful"):
        layer.StepModeContainer(nn.Linear(2, 2))


def test_element_wise_recurrent_container_against_hand_loop():
    torch.manual_seed(0)
    lif = neuron.IFNode(v_threshold=0.5)
    c = layer.ElementWiseRecurrentContainer(lif, lambda y, x: x + 0.5 * y, step_mode="m")
    x = torch.rand(T, N, 5)
    out = c(x)
    ref_node = neuron.IFNode(v_threshold=0.5)
    y, ref = torch.zeros(N, 5), []
    for xt in x:
        y = ref_node(xt + 0.5 * y)
        ref.append(y)
    torch.testing.assert_close(out, torch.stack(ref))
    reset_net(c)
    assert c.y is None and lif.v == 0.0


def test_linear_recurrent_container_against_hand_loop_and_gradient():
    torch.manual_seed(0)
    sub = nn.Tanh()
    c = layer.LinearRecurrentContainer(sub, in_features=3, out_features=3, step_mode="m")
    x = torch.randn(T, N, 3, requires_grad=True)
    out = c(x)
    y, ref = torch.zeros(N, 3), []
    for xt in x:
        y = torch.tanh(c.rc(torch.cat((xt, y), -1)))
        ref.append(y)
    torch.testing.assert_close(out, torch.stack(ref))
    out.sum().backward()
    assert c.rc.weight.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"expected input \[..., 3\]"):
        reset_net(c)
        c(torch.randn(T, N, 4))


@pytest.mark.parametrize("d", [0, 1, 3])
def test_delay_shifts_and_continues_across_calls(d):
    x = torch.arange(1.0, 2 * T + 1).view(2 * T, 1, 1).expand(2 * T, N, 2).contiguous()
    expected = torch.cat((torch.zeros(d, N, 2), x))[: 2 * T]
    m = layer.Delay(d, step_mode="m")
    torch.testing.assert_close(torch.cat((m(x[:T]), m(x[T:]))), expected)
    s = layer.Delay(d, step_mode="s")
    torch.testing.assert_close(torch.stack([s(xt) for xt in x]), expected)
    reset_net(m)
    torch.testing.assert_close(m(x[:T]), expected[:T])
    if d:
        with pytest.raises(StateShapeError):
            m(torch.zeros(T, N + 1, 2))
    with pytest.raises(ValueError, match="delay_steps"):
        layer.Delay(-1)


@pytest.mark.parametrize("learnable", [False, True])
def test_synapse_filter_recursion(learnable):
    f = layer.SynapseFilter(tau=4.0, learnable=learnable, step_mode="m")
    x = torch.rand(T, N, 2)
    x[1] = (x[1] > 0.5).float()  # spikes: no decay where one arrives, +1
    i, ref = torch.zeros(N, 2), []
    for xt in x:
        i = i - (1 - xt) * i / 4.0 + xt
        ref.append(i)
    torch.testing.assert_close(f(x), torch.stack(ref))
    if learnable:
        reset_net(f)
        f(x).sum().backward()
        assert f.w.grad is not None


def test_voting_layer_and_errors():
    v = layer.VotingLayer(2)
    torch.testing.assert_close(v(torch.tensor([[1.0, 3.0, 0.0, 1.0]])), torch.tensor([[2.0, 0.5]]))
    with pytest.raises(ValueError, match="multiple of voting_size"):
        v(torch.zeros(1, 5))


def test_tdbn_init_and_tebn_per_step_scale():
    td = layer.ThresholdDependentBatchNorm2d(0.5, 2.0, 3)
    assert td.step_mode == "m" and torch.equal(td.weight, torch.ones(3))
    tebn = layer.TemporalEffectiveBatchNorm2d(T, 3)
    with torch.no_grad():
        tebn.scale.copy_(torch.arange(1.0, T + 1))
    x = torch.randn(T, N, 3, 2, 2)
    ref = nn.BatchNorm2d(3)(x.flatten(0, 1)).view(x.shape) * torch.arange(1.0, T + 1).view(T, 1, 1, 1, 1)
    torch.testing.assert_close(tebn(x), ref)
    with pytest.raises(StepModeError, match="T=4"):
        tebn(torch.randn(T + 1, N, 3, 2, 2))
    with pytest.raises(StepModeError):
        tebn.step_mode = "s"
