"""MACs: multiply-accumulate operations of dense (non-spike) products and of batch norm."""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
from torch import nn

from sj.op_counter.base import BaseCounter
from sj.op_counter.spike_ops import is_spike

aten = torch.ops.aten
__all__ = ["MACCounter"]


def _matmul(x: torch.Tensor, y: torch.Tensor) -> int:
    """``[.., M, K] @ [.., K, N]``: ``batch·M·N·K`` MACs, none when an operand is a spike tensor (that is ACs)."""
    if is_spike(x) or is_spike(y):
        return 0
    return prod(int(d) for d in x.shape) * int(y.shape[-1])


def _convolution(args, kwargs, out) -> int:
    x, w, transposed = args[0], args[1], args[6]
    if is_spike(x) or is_spike(w):
        return 0
    spatial = x.shape[2:] if transposed else out.shape[2:]
    return int(w.shape[0]) * prod(int(d) for d in w.shape[1:]) * prod(int(d) for d in spatial) * int(x.shape[0])


def _batch_norm(args, kwargs, out) -> int:
    x, training = args[0], args[5]
    mac = x.numel() if args[1] is not None else 0  # x̂·γ + β
    if training and args[3] is not None:
        mac += 2 * x.shape[1]  # running mean and var: old + m·(new − old)
    return mac


class MACCounter(BaseCounter):
    """Multiply-accumulate operations (MACs), for :class:`DispatchCounterMode`: matrix products and convolutions of
    dense operands (``M·N·K``; a spike operand makes them ACs, see :class:`ACCounter`, so MACs and ACs never count
    the same step twice) and batch norm's affine transform and running statistics. Forward pass only.

    Args:
        extra_rules: ``{aten_op: rule(args, kwargs, out) -> int}`` added to (or replacing) the default rules.
        extra_ignore_modules: module types whose operators are not counted.
    """

    def __init__(self, extra_rules: dict[Any, Callable] | None = None,
                 extra_ignore_modules: list[type[nn.Module]] | None = None) -> None:
        super().__init__()
        rules: dict[Any, Callable] = {
            aten.mm.default: lambda args, kwargs, out: _matmul(args[0], args[1]),
            aten.bmm.default: lambda args, kwargs, out: _matmul(args[0], args[1]),
            aten.addmm.default: lambda args, kwargs, out: _matmul(args[1], args[2]),
            aten.baddbmm.default: lambda args, kwargs, out: _matmul(args[1], args[2]),
            aten.convolution.default: _convolution,
            aten.native_batch_norm.default: _batch_norm,
        }
        self._setup(rules, extra_rules, extra_ignore_modules)
