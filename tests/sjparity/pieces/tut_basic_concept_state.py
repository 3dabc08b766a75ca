# ruff: noqa
"""Tutorial basic_concept, "Saving and Resetting of States": v before and after an input, reset() and a new shape."""
import torch
from spikingjelly.activation_based import neuron

net_s = neuron.IFNode(step_mode='s')
x = torch.rand([4])
print(net_s)
print(f'the initial v={net_s.v}')
v0 = net_s.v
y = net_s(x)
print(f'x={x}')
print(f'y={y}')
print(f'v={net_s.v}')
v1 = net_s.v.clone()

net_s.reset()
v2 = net_s.v
x = torch.rand([8])
y2 = net_s(x)
v3 = net_s.v

result = {"v0": v0, "y": y, "v1": v1, "v2": v2, "y2": y2, "v3": v3}
