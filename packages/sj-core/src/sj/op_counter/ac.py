"""ACs: the pure additions (accumulations) of a network, spike-driven products included."""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
from torch import nn

from sj.op_counter import aten_ops, neuron_ops
from sj.op_counter.base import BaseCounter
from sj.op_counter.spike_ops import spike_count
from sj.op_counter.synop import synaptic_rules

aten = torch.ops.aten
__all__ = ["ACCounter"]


def _elementwise(args, kwargs, out) -> int:
    """``ones(x) + ones(y)`` when both operands are spikes (only those elements are added), else one per output."""
    y = args[1] if len(args) > 1 and isinstance(args[1], torch.Tensor) else None
    nnz_x, nnz_y = spike_count(args[0]), spike_count(y)
    if nnz_x is not None and nnz_y is not None:
        return nnz_x + nnz_y
    return out.numel()


def _batch_norm(args, kwargs, out) -> int:
    x, training, has_running = args[0], args[5], args[3] is not None
    n, c = x.numel(), x.shape[1]
    if not training:
        return c + n  # var + eps, x - mean
    ac = (n - c) + n + c + n  # sums for the mean, E[x²] − E[x]², var + eps, x − mean
    return ac + (2 * c if has_running else 0)  # running mean and var: old + m·(new − old)


def _neuron(args, kwargs, out) -> int:
    return neuron_ops.operation_counts(args)["add"]


class ACCounter(BaseCounter):
    """Accumulate operations (ACs): additions, from a hardware view, for :class:`DispatchCounterMode`.

    Broader than :class:`SynOpCounter`: besides the spike-driven products it counts the additions of batch norm,
    average pooling, sums and means, element-wise additions and subtractions (a SEW residual ``A + S`` counts
    ``ones(A) + ones(S)`` for spike operands) and the additions of sj neurons' equations (see
    :mod:`sj.op_counter.neuron_ops`). A product of dense operands is a MAC, not an AC (:class:`MACCounter`). BN's
    additions count as they run; fuse BN into the preceding layer, or pass it in ``extra_ignore_modules``, to leave
    them out. Forward pass only.

    Args:
        extra_rules: ``{aten_op: rule(args, kwargs, out) -> int}`` added to (or replacing) the default rules.
        extra_ignore_modules: module types whose operators are not counted.
    """

    def __init__(self, extra_rules: dict[Any, Callable] | None = None,
                 extra_ignore_modules: list[type[nn.Module]] | None = None) -> None:
        super().__init__()
        rules: dict[Any, Callable] = {
            **synaptic_rules(),
            aten.native_batch_norm.default: _batch_norm,
            aten.avg_pool2d.default: lambda args, kwargs, out: out.numel() * (prod(args[1]) - 1),
            aten.mean.dim: lambda args, kwargs, out: args[0].numel() - out.numel(),
            aten.sigmoid_.default: lambda args, kwargs, out: out.numel(),
            **{op: lambda args, kwargs, out: args[0].numel() - out.numel() for op in aten_ops.SUM},
            **{op: _elementwise for op in aten_ops.ADD_SUB},
            **{op: _neuron for op in neuron_ops.NEURON_EVENTS},
        }
        self._setup(rules, extra_rules, extra_ignore_modules)
