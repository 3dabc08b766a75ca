# ruff: noqa
"""Docstring of datasets.utils.padded_sequence_mask: the [T, N] mask of three padded sequences of lengths 2, 3, 4."""
import torch
from spikingjelly.datasets.utils import padded_sequence_mask

x1 = torch.rand([2, 6])
x2 = torch.rand([3, 6])
x3 = torch.rand([4, 6])
x = torch.nn.utils.rnn.pad_sequence([x1, x2, x3])  # [T, N, *]
print(f"x.shape={x.shape}")
x_len = torch.as_tensor([x1.shape[0], x2.shape[0], x3.shape[0]])
mask = padded_sequence_mask(x_len)
print(f"mask.shape={mask.shape}")
print(f"mask=\n{mask}")

result = {"x": x, "mask": mask}
