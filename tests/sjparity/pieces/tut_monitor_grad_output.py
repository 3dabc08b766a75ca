# ruff: noqa
"""Tutorial monitor, "Record the Input Gradients": GradOutputMonitor records dL/dS of each IF layer."""
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

spike_seq_grad_monitor = monitor.GradOutputMonitor(net, neuron.IFNode)
net(x_seq).sum().backward()
print(f'spike_seq_grad_monitor.records=\n{spike_seq_grad_monitor.records}')
records = list(spike_seq_grad_monitor.records)
functional.reset_net(net)
del spike_seq_grad_monitor

result = {"records": records, "grads": {k: p.grad for k, p in net.named_parameters()}}
