# ruff: noqa
"""Tutorial container: MaxPool2d(return_indices=True) in multi-step mode feeding MaxUnpool2d, and
seq_to_ann_forward with a tuple of sequences."""
import torch
from spikingjelly.activation_based import functional, layer

with torch.no_grad():
    T = 4
    N = 1
    C = 3
    H = 8
    W = 8
    x_seq = torch.rand([T, N, C, H, W])

    pool = layer.MaxPool2d(2, return_indices=True, step_mode="m")
    unpool = layer.MaxUnpool2d(2, step_mode="m")

    y_seq, indices = pool(x_seq)
    # y_seq.shape = indices.shape = [T, N, C, H // 2, W // 2]

    z_seq = unpool(y_seq, indices)
    # z_seq.shape = [T, N, C, H, W]

    p_seq = functional.seq_to_ann_forward((y_seq, indices), torch.nn.MaxUnpool2d(2))
    # p_seq is identical to z_seq

result = {"y_seq": y_seq, "indices": indices, "z_seq": z_seq, "p_seq": p_seq}
