# ruff: noqa
"""Tutorial basic_concept, "Step Mode": functional.multi_step_forward wraps the time loop of a single-step module."""
import torch
from spikingjelly.activation_based import neuron, functional
net_s = neuron.IFNode(step_mode='s')
T = 4
N = 1
C = 3
H = 8
W = 8
x_seq = torch.rand([T, N, C, H, W])
y_seq = functional.multi_step_forward(x_seq, net_s)
# y_seq.shape = [T, N, C, H, W]

result = {"y_seq": y_seq, "v": net_s.v}
