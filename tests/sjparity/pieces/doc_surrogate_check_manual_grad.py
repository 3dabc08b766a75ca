# ruff: noqa
"""Docstring of surrogate.check_manual_grad: S2NN's hand-written gradient against autograd of its primitive function;
then the same check for Sigmoid and ATan (they print); S2NN's gradient on a grid is compared."""
from spikingjelly.activation_based import surrogate


def s2nn_apply(x, alpha, beta):
    return surrogate.s2nn.apply(x, alpha, beta)


surrogate.check_manual_grad(
    surrogate.S2NN.primitive_function, s2nn_apply, alpha=4.0, beta=1.0
)
surrogate.check_manual_grad(surrogate.Sigmoid.primitive_function, surrogate.sigmoid.apply, alpha=4.0)
surrogate.check_manual_grad(surrogate.ATan.primitive_function, surrogate.atan.apply, alpha=2.0)

import torch

x = torch.linspace(-2, 2, 33, requires_grad=True)
s2nn_apply(x, 4.0, 1.0).sum().backward()
result = {"s2nn_grad": x.grad}
