"""OTTT spiking VGGs (sj.model.spiking_vggws_ottt): the weight gradient comes from the presynaptic trace, the light
classifier's ``fc_hw``, other neurons in step mode 'm', and bad arguments."""

from __future__ import annotations

import pytest
import torch

from sj.base import StepModeError
from sj.functional import reset_net, set_step_mode
from sj.model.spiking_vggws_ottt import OTTTSpikingVGG, Scale, ottt_spiking_vggws
from sj.neuron import LIFNode, OTTTLIFNode


def _net(**kw) -> OTTTSpikingVGG:
    torch.manual_seed(0)
    net = OTTTSpikingVGG([512], weight_standardization=False, num_classes=3, spiking_neuron=OTTTLIFNode, tau=2.0,
                         **kw).double()
    torch.nn.init.uniform_(net.features[0].weight, -0.05, 0.2)  # spikes at both steps
    return net


def test_classifier_gradient_is_taken_from_the_trace():
    """Two training steps, backward at the second: the output is ``W·mean(s₂) + b`` (the spikes) while the weight
    gradient is ``gᵀ·mean(trace₂)``, ``trace₂ = s₁·(1 − 1/τ) + s₂`` (OTTT's eligibility trace)."""
    net = _net().train()
    spikes = []
    net.features[1].register_forward_hook(lambda m, i, o: spikes.append(o[0].detach()))
    x = torch.rand(2, 2, 3, 4, 4, dtype=torch.float64)
    net(x[0])
    y = net(x[1])
    g = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    y.backward(g)
    fc = net.classifier[2]
    s1, s2 = (s.mean((2, 3)) for s in spikes)
    assert 0 < s1.sum() and 0 < s2.sum() and not torch.equal(s1 * 0.5 + s2, s2)
    torch.testing.assert_close(y, s2 @ fc.weight.T + fc.bias)
    torch.testing.assert_close(fc.weight.grad, g.T @ (s1 * 0.5 + s2))
    net.eval()
    reset_net(net)
    assert isinstance(net(x[0]), torch.Tensor)  # evaluation: spikes only, no trace


def test_light_classifier_fc_hw():
    net = _net(fc_hw=2)
    assert net.classifier[2].in_features == 512 * 4
    assert net(torch.rand(2, 3, 4, 4, dtype=torch.float64)).shape == (2, 3)


def test_other_neurons_run_in_multi_step_mode():
    """With a LIF neuron the network is an ordinary spiking VGG: step by step equals step mode 'm'."""
    torch.manual_seed(0)
    net = OTTTSpikingVGG([8, "A", 512], num_classes=4, spiking_neuron=LIFNode, backend="torch").eval()
    x = torch.rand(2, 1, 3, 8, 8) * 4
    stepwise = torch.stack([net(x_t) for x_t in x])
    set_step_mode(net, "m")
    reset_net(net)
    torch.testing.assert_close(net(x), stepwise)
    assert [m.scale for m in net.features if isinstance(m, Scale)] == [2.74, 2.74]


def test_small_ws_vgg_layout():
    with torch.device("meta"):
        net = ottt_spiking_vggws(num_classes=10, drop_rate=0.1)
    kinds = [type(m).__name__ for m in net.features]
    assert kinds[:8] == ["WSConv2d", "OTTTLIFNode", "Scale", "Dropout", "WSConv2d", "OTTTLIFNode", "Scale", "Dropout"]
    assert kinds.count("AvgPool2d") == 3 and kinds.count("WSConv2d") == 8 and net.classifier[2].in_features == 512


@pytest.mark.parametrize("kw, error, match", [
    ({"cfg": [64, "M"]}, ValueError, "512 channels"),
    ({"fc_hw": 0}, ValueError, "fc_hw"),
    ({"spiking_neuron": None}, TypeError, "spiking_neuron"),
    ({"step_mode": "m"}, StepModeError, "step_mode='s'"),
])
def test_bad_arguments(kw, error, match):
    args = {"cfg": [512], "spiking_neuron": OTTTLIFNode, **kw}
    with torch.device("meta"), pytest.raises(error, match=match):
        OTTTSpikingVGG(**args)
