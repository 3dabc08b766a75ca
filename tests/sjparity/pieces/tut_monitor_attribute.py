# ruff: noqa
"""Tutorial monitor, "Record Attributes": store_v_seq = True and AttributeMonitor('v_seq')."""
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

for m in net.modules():
    if isinstance(m, neuron.IFNode):
        m.store_v_seq = True

v_seq_monitor = monitor.AttributeMonitor('v_seq', pre_forward=False, net=net, instance=neuron.IFNode)
with torch.no_grad():
    net(x_seq)
    print(f'v_seq_monitor.records=\n{v_seq_monitor.records}')
    records = list(v_seq_monitor.records)
    functional.reset_net(net)
    del v_seq_monitor

result = {"records": records}
