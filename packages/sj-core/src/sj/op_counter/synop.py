"""SynOps: the weight accumulations spikes trigger in matrix products and convolutions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj.op_counter.base import BaseCounter
from sj.op_counter.spike_ops import spike_conv_ops, spike_matmul_ops

aten = torch.ops.aten
__all__ = ["SynOpCounter", "synaptic_rules"]


def synaptic_rules() -> dict[Any, Callable]:
    """Rules of the spike-driven products (``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``convolution``); see
    :mod:`sj.op_counter.spike_ops`."""
    return {
        aten.mm.default: lambda args, kwargs, out: spike_matmul_ops(args[0], args[1], product=out),
        aten.bmm.default: lambda args, kwargs, out: spike_matmul_ops(args[0], args[1], product=out),
        aten.addmm.default: lambda args, kwargs, out: spike_matmul_ops(args[1], args[2], kwargs.get("alpha", 1)),
        aten.baddbmm.default: lambda args, kwargs, out: spike_matmul_ops(args[1], args[2], kwargs.get("alpha", 1)),
        aten.convolution.default: lambda args, kwargs, out: spike_conv_ops(args, out),
    }


class SynOpCounter(BaseCounter):
    """Synaptic operations (SynOps): weight accumulations driven by spikes, for :class:`DispatchCounterMode`.

    Only spike-driven matrix products and convolutions count (a binary operand; see
    :mod:`sj.op_counter.spike_ops`): ``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``convolution``. A residual addition
    (SEW ResNet) or a neuron's update is not a SynOp (:class:`ACCounter` counts those); a product of two dense
    operands counts 0 here (:class:`MACCounter` counts it). Forward pass only.

    Args:
        extra_rules: ``{aten_op: rule(args, kwargs, out) -> int}`` added to (or replacing) the default rules.
        extra_ignore_modules: module types whose operators (and their children's) are not counted.

    Example::

        counter = SynOpCounter()
        with DispatchCounterMode([counter]):
            nn.Linear(10, 5, bias=False)((torch.rand(4, 10) < 0.2).float())
        counter.get_total()  # ones of the input × 5
    """

    def __init__(self, extra_rules: dict[Any, Callable] | None = None,
                 extra_ignore_modules: list[type[nn.Module]] | None = None) -> None:
        super().__init__()
        self._setup(synaptic_rules(), extra_rules, extra_ignore_modules)
