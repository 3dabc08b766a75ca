# ruff: noqa
"""Tutorial surrogate: the functional API, surrogate.sigmoid.apply(x, alpha)."""
import torch
from spikingjelly.activation_based import surrogate

alpha = 4.
x = torch.rand([8]) - 0.5
x.requires_grad = True
y = surrogate.sigmoid.apply(x, alpha)
y.sum().backward()
print(f'x={x}')
print(f'y={y}')
print(f'x.grad={x.grad}')

result = {"y": y, "grad": x.grad}
