# ruff: noqa
"""Docstring of datasets.random_temporal_delete: 5 of 8 steps kept, in order, for each of 4 sequences."""
import torch
from spikingjelly.datasets import random_temporal_delete

T = 8
T_remain = 5
N = 4
x_seq = torch.arange(0, N * T).view([N, T])
print("x_seq=\n", x_seq)
y = random_temporal_delete(x_seq, T_remain, batch_first=True)
print("random_temporal_delete(x_seq)=\n", y)

result = {"y": y}
