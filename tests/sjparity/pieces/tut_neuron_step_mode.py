# ruff: noqa
"""Tutorial neuron, "Step mode and backend": the same sequence through multi_step_forward and step_mode 'm'."""
import torch
from spikingjelly.activation_based import neuron, functional
if_layer = neuron.IFNode(step_mode='s')
T = 8
N = 2
x_seq = torch.rand([T, N])
y_seq = functional.multi_step_forward(x_seq, if_layer)
if_layer.reset()

if_layer.step_mode = 'm'
y_seq_m = if_layer(x_seq)
if_layer.reset()

result = {"y_seq": y_seq, "y_seq_m": y_seq_m}
