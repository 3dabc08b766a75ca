"""Express Linear / Conv1d / Conv2d synapses as one matrix product over patches, so one plasticity rule covers all.

A synapse with weight ``W`` (``O`` outputs) maps input patches ``[B, I, L]`` (``I`` = fan-in, ``L`` = output
positions; ``L = 1`` for Linear) to outputs ``[B, O, L]`` with ``W.view(O, I)``. Convolution inputs here are already
padded (the learners pad them with the layer's padding and padding mode).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def patches(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...],
            dilation: tuple[int, ...]) -> torch.Tensor:
    """One step of synapse input ``[B, I]`` (Linear: ``kernel == ()``), ``[B, C, L]`` or ``[B, C, H, W]`` →
    patches ``[B, I, L_out]``."""
    if not kernel:
        return x.unsqueeze(-1)
    if len(kernel) == 1:
        x, kernel, stride, dilation = x.unsqueeze(-2), (1, *kernel), (1, *stride), (1, *dilation)
    return F.unfold(x, kernel, dilation=dilation, stride=stride)


def positions(y: torch.Tensor) -> torch.Tensor:
    """One step of synapse output (or a post-synaptic quantity shaped like it) ``[B, O, *]`` → ``[B, O, L]``."""
    return y.unsqueeze(-1) if y.dim() == 2 else y.flatten(2)


def output_size(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                dilation: tuple[int, ...]) -> tuple[int, ...]:
    """Spatial output size of an unpadded convolution."""
    return tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(size, kernel, stride, dilation))


def weight_matrix(w: torch.Tensor) -> torch.Tensor:
    """``W`` as ``[O, I]``."""
    return w.reshape(w.shape[0], -1)
