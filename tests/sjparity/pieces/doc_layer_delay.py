# ruff: noqa
"""Docstrings of layer.Delay (step mode 'm') and functional.delay: a sequence delayed by one step, and its gradient."""
import torch
from spikingjelly.activation_based.layer import Delay
from spikingjelly.activation_based.functional import delay

delay_layer = Delay(delay_steps=1, step_mode="m")
x = torch.rand([5, 2])
x[3:].zero_()
x.requires_grad = True
y = delay_layer(x)
print("x=")
print(x)
print("y=")
print(y)
y.sum().backward()
print("x.grad=")
print(x.grad)
grad_layer = x.grad.clone()

x = torch.rand([5, 2])
x[3:].zero_()
x.requires_grad = True
y2 = delay(x, 1)
y2.sum().backward()

result = {"y_layer": y, "grad_layer": grad_layer, "y_function": y2, "grad_function": x.grad}
