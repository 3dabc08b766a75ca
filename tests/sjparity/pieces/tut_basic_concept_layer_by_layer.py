# ruff: noqa
"""Tutorial basic_concept, "Propagation Patterns": a multi-step network run layer by layer, and as nn.Sequential."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import neuron, functional, layer
T = 4
N = 2
C = 8
x_seq = torch.rand([T, N, C]) * 64.

net = nn.Sequential(
    layer.Linear(C, 4),
    neuron.IFNode(),
    layer.Linear(4, 2),
    neuron.IFNode()
)

functional.set_step_mode(net, step_mode='m')
with torch.no_grad():
    y_seq_layer_by_layer = x_seq
    for i in range(net.__len__()):
        y_seq_layer_by_layer = net[i](y_seq_layer_by_layer)

functional.reset_net(net)
with torch.no_grad():
    y_seq_sequential = net(x_seq)

result = {"layer_by_layer": y_seq_layer_by_layer, "sequential": y_seq_sequential,
          "weights": {k: v for k, v in net.named_parameters()}}
