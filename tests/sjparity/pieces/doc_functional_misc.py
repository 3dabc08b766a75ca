# ruff: noqa
"""Docstrings of functional.redundant_one_hot, functional.first_spike_index, functional.chunk_multi_step_forward and
functional.temporal_efficient_training_cross_entropy (against its for-loop version)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import neuron, layer, functional

num_classes = 3
n = 2
labels = torch.randint(0, num_classes, [4])
codes = functional.redundant_one_hot(labels, num_classes, n)

spikes = (torch.rand(size=[2, 3, 8]) >= 0.8).float()
index = functional.first_spike_index(spikes)

net = nn.Sequential(
    layer.Linear(8, 4),
    neuron.IFNode(step_mode="m"),
    layer.Linear(4, 2),
    neuron.IFNode(step_mode="m"),
)

x_seq = torch.rand([1024, 8])
with torch.no_grad():
    y_seq = functional.chunk_multi_step_forward(16, x_seq, net)
    print(y_seq.shape)
    # torch.Size([1024, 2])


def tet_ce_for_loop_version(x_seq: torch.Tensor, target: torch.LongTensor):
    loss = 0.0
    for t in range(x_seq.shape[0]):
        loss += F.cross_entropy(x_seq[t], target)
    return loss / x_seq.shape[0]


T = 8
N = 4
C = 10
x_seq = torch.rand([T, N, C])
target = torch.randint(low=0, high=C - 1, size=[N])
tet = functional.temporal_efficient_training_cross_entropy(x_seq, target)
print(f"max error = {(tet_ce_for_loop_version(x_seq, target) - tet).abs().max()}")

result = {"codes": codes, "index": index, "y_seq": y_seq, "tet": tet, "loop": tet_ce_for_loop_version(x_seq, target)}
