"""Fold a BatchNorm that follows a convolution into the convolution, for inference."""

from __future__ import annotations

import copy

import torch
from torch import nn

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def fuse_conv_bn(conv: nn.Module, bn: nn.Module) -> nn.Module:
    """Return a copy of ``conv`` whose weight and bias absorb ``bn`` (in eval mode: running statistics).

    ``y = bn(conv(x))`` equals ``fused(x)`` for a BN in eval mode: with ``s = γ/√(σ² + ε)``,
    ``W' = W·s`` (per output channel) and ``b' = (b − μ)·s + β``. Works for sj step-mode wrappers too (the copy keeps
    its ``step_mode``). The inputs are not modified.

    Raises:
        TypeError: ``conv`` is not a Conv1d/2d/3d or ``bn`` not a BatchNorm1d/2d/3d.
        ValueError: channel counts differ or ``bn`` tracks no running statistics.
    """
    if not isinstance(conv, _CONV):
        raise TypeError(f"fuse_conv_bn: conv must be a Conv1d/2d/3d, got {type(conv).__name__}")
    if not isinstance(bn, _BN):
        raise TypeError(f"fuse_conv_bn: bn must be a BatchNorm1d/2d/3d, got {type(bn).__name__}")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"fuse_conv_bn: conv has {conv.out_channels} output channels but bn normalises "
                         f"{bn.num_features}")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fuse_conv_bn: bn has no running statistics (track_running_stats=False)")
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.affine:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale + (bn.bias if bn.affine else 0.0)
        weight = conv.weight * scale.view(-1, *([1] * (conv.weight.dim() - 1)))
        bias = shift if conv.bias is None else conv.bias * scale + shift
        fused.weight = nn.Parameter(weight)
        fused.bias = nn.Parameter(bias)
    return fused
