# ruff: noqa
"""Docstring of rnn.SpikingLSTMCell: a cell stepped over 6 time steps from a random (h, c), outputs and gradients."""
import torch
from spikingjelly.activation_based import rnn

T = 6
batch_size = 2
input_size = 3
hidden_size = 4
rnn = rnn.SpikingLSTMCell(input_size, hidden_size)
input = torch.randn(T, batch_size, input_size) * 50
h = torch.randn(batch_size, hidden_size)
c = torch.randn(batch_size, hidden_size)

output = []
for t in range(T):
    h, c = rnn(input[t], (h, c))
    output.append(h)
print(output)
torch.stack(output).sum().backward()

result = {"output": output, "c": c, "grads": {k: p.grad for k, p in rnn.named_parameters()}}
