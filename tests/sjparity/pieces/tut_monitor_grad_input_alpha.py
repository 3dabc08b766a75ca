# ruff: noqa
"""Tutorial monitor, "Record the Output Gradients": GradInputMonitor(function_on_grad_input=torch.norm) over a
10-layer IF network while the Sigmoid surrogate's alpha is swept."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import monitor, neuron, functional, layer, surrogate

net = []
for i in range(10):
    net.append(layer.Linear(8, 8))
    net.append(neuron.IFNode())

net = nn.Sequential(*net)

functional.set_step_mode(net, 'm')

T = 4
N = 1
x_seq = torch.rand([T, N, 8])

input_grad_monitor = monitor.GradInputMonitor(net, neuron.IFNode, function_on_grad_input=torch.norm)

records = {}
for alpha in [0.1, 0.5, 2, 4, 8]:
    for m in net.modules():
        if isinstance(m, surrogate.Sigmoid):
            m.alpha = alpha
    net(x_seq).sum().backward()
    print(f'alpha={alpha}, input_grad_monitor.records=\n{input_grad_monitor.records}\n')
    records[str(alpha)] = list(input_grad_monitor.records)
    functional.reset_net(net)
    # zero grad
    for param in net.parameters():
        param.grad.zero_()

    input_grad_monitor.records.clear()

result = {"records": records}

# Not part of the tutorial: SJ's IFNode() instances share one default Sigmoid, whose alpha the sweep changed; put it
# back so that pieces run after this one in the same process start from SJ's defaults.
for m in net.modules():
    if isinstance(m, surrogate.Sigmoid):
        m.alpha = 4.
