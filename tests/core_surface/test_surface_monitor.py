"""sj.monitor: the right tensors are recorded, per layer name, and hooks are released."""

import pytest
import torch
from torch import nn

from sj import layer, monitor, neuron
from sj.functional import reset_net


def _net():
    torch.manual_seed(0)
    return nn.Sequential(layer.Linear(4, 3), neuron.IFNode(v_threshold=0.5), layer.Linear(3, 2),
                         neuron.IFNode(v_threshold=0.5))


def test_output_and_input_monitor_record_exact_tensors():
    net = _net()
    out_mon = monitor.OutputMonitor(net, neuron.IFNode)
    in_mon = monitor.InputMonitor(net, neuron.IFNode)
    assert out_mon.monitored_layers == ["1", "3"]
    x = torch.rand(2, 4) * 2
    y = net(x)
    h = net[0](x)
    torch.testing.assert_close(in_mon["1"][0], h)
    torch.testing.assert_close(out_mon["3"][0], y)
    assert len(out_mon) == 2 and out_mon[1] is out_mon["3"][0]
    assert not out_mon["3"][0].requires_grad
    out_mon.disable()
    net(x)
    assert len(out_mon) == 2 and not out_mon.is_enable()
    out_mon.enable()
    net(x)
    assert len(out_mon) == 4
    out_mon.clear_recorded_data()
    assert len(out_mon) == 0 and out_mon["1"] == []
    n_in = len(in_mon)
    out_mon.remove_hooks()
    in_mon.remove_hooks()
    net(x)
    assert len(out_mon) == 0 and len(in_mon) == n_in == 6
    assert not net[1]._forward_hooks
    with pytest.raises(KeyError, match="not monitored"):
        out_mon["0"]


def test_attribute_monitor_v_before_and_after():
    net = _net()
    before = monitor.AttributeMonitor("v", True, net, neuron.IFNode)
    after = monitor.AttributeMonitor("v", False, net, neuron.IFNode)
    x = torch.full((1, 4), 0.3)
    net(x)
    v_after_1 = net[1].v.clone()
    net(x)
    assert before["1"][0] == 0.0  # initial v (a number until the first step)
    torch.testing.assert_close(after["1"][0], v_after_1)
    torch.testing.assert_close(before["1"][1], v_after_1)


def test_grad_monitors():
    net = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    gi = monitor.GradInputMonitor(net, nn.Tanh)
    go = monitor.GradOutputMonitor(net, nn.Tanh)
    x = torch.randn(4, 3)
    h = net[0](x)
    net(x).sum().backward()
    torch.testing.assert_close(go["1"][0], torch.ones(4, 2))
    torch.testing.assert_close(gi["1"][0], 1 - torch.tanh(h).detach() ** 2)


def test_firing_rates_helper():
    net = _net()
    for m in net:
        m.step_mode = "m"
    x = torch.rand(5, 3, 4) * 2
    rates = monitor.firing_rates(net, x)
    reset_net(net)
    s1 = net[1](net[0](x))
    s3 = net[3](net[2](s1))
    assert list(rates) == ["1", "3"]
    assert rates["1"] == pytest.approx(s1.mean().item()) and rates["3"] == pytest.approx(s3.mean().item())
    assert not net[1]._forward_hooks
    with pytest.raises(ValueError, match="no module"):
        monitor.OutputMonitor(net, nn.Conv2d)
