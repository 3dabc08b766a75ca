# ruff: noqa
"""Docstrings of layer.ElementWiseRecurrentContainer (an IF neuron with soft reset fed back by addition) and
layer.LinearRecurrentContainer (Linear + LIF with a linear recurrent connection), each run for T = 8 single steps."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import neuron, functional
from spikingjelly.activation_based.layer import ElementWiseRecurrentContainer, LinearRecurrentContainer

T = 8
net = ElementWiseRecurrentContainer(
    neuron.IFNode(v_reset=None), element_wise_function=lambda x, y: x + y
)
print(net)
x = torch.zeros([T])
x[0] = 1.5
s = []
for t in range(T):
    s.append(net(x[t]))

functional.reset_net(net)

in_features = 4
out_features = 2
T = 8
N = 2
net = LinearRecurrentContainer(
    nn.Sequential(
        nn.Linear(in_features, out_features),
        neuron.LIFNode(),
    ),
    in_features,
    out_features,
)
print(net)
x = torch.rand([T, N, in_features]) * 4
y = []
for t in range(T):
    y.append(net(x[t]))

functional.reset_net(net)

result = {"element_wise": s, "linear": y, "params": {k: v for k, v in net.named_parameters()}}
