# ruff: noqa
"""Tutorial surrogate: surrogate.Sigmoid(alpha=4.) as a module, its spikes and surrogate gradient."""
import torch
from spikingjelly.activation_based import surrogate

sg = surrogate.Sigmoid(alpha=4.)

x = torch.rand([8]) - 0.5
x.requires_grad = True
y = sg(x)
y.sum().backward()
print(f'x={x}')
print(f'y={y}')
print(f'x.grad={x.grad}')

result = {"y": y, "grad": x.grad}
