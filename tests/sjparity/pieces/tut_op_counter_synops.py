# ruff: noqa
"""Tutorial op_counter, "Available Counters": SynOpCounter counts the synaptic additions of spike inputs."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import op_counter

model = nn.Linear(8, 4, bias=False)
spike_x = (torch.rand(2, 8) > 0.5).float()

synop_counter = op_counter.SynOpCounter()
with op_counter.DispatchCounterMode([synop_counter], strict=False):
    _ = model(spike_x)

print("SynOps:", synop_counter.get_total())

result = {"synops": synop_counter.get_total()}
