# ruff: noqa
"""Tutorial recurrent_connection_and_stateful_synapse, "Stateful Synapse": layer.SynapseFilter after a convolution,
run for 4 single steps (the tutorial only builds it)."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import layer, functional, neuron

stateful_conv = nn.Sequential(
    layer.Conv2d(3, 16, kernel_size=3, padding=1, stride=1),
    layer.SynapseFilter(tau=100.)
)

x = torch.rand([4, 2, 3, 8, 8])
y = [stateful_conv(x[t]) for t in range(4)]
functional.reset_net(stateful_conv)

result = {"y": y}
