# ruff: noqa
"""Tutorial monitor, "Usage": OutputMonitor with function_on_output computing firing rates; disable() and enable()."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import monitor, neuron, functional, layer

net = nn.Sequential(
    layer.Linear(8, 4),
    neuron.IFNode(),
    layer.Linear(4, 2),
    neuron.IFNode()
)

for param in net.parameters():
    param.data.abs_()

functional.set_step_mode(net, 'm')
T = 4
N = 1
x_seq = torch.rand([T, N, 8])

def cal_firing_rate(s_seq: torch.Tensor):
    # s_seq.shape = [T, N, *]
    return s_seq.flatten(1).mean(1)

fr_monitor = monitor.OutputMonitor(net, neuron.IFNode, cal_firing_rate)

with torch.no_grad():
    fr_monitor.disable()
    net(x_seq)
    functional.reset_net(net)
    print(f'after call fr_monitor.disable(), fr_monitor.records=\n{fr_monitor.records}')
    disabled = list(fr_monitor.records)

    fr_monitor.enable()
    net(x_seq)
    print(f'after call fr_monitor.enable(), fr_monitor.records=\n{fr_monitor.records}')
    enabled = list(fr_monitor.records)
    functional.reset_net(net)
    del fr_monitor

result = {"disabled": disabled, "enabled": enabled}
