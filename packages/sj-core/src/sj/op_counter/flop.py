"""FLOPs: floating-point operations (one multiplication or one addition = 1 FLOP) of forward and backward."""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import Any

import torch
from torch import nn

from sj.op_counter import aten_ops, neuron_ops
from sj.op_counter.base import BaseCounter

aten = torch.ops.aten
__all__ = ["FlopCounter"]


def _check_inner(name: str, x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape[-1] != y.shape[-2] or x.shape[:-2] != y.shape[:-2]:
        raise AssertionError(f"{name}: batch or inner dimensions mismatch [{tuple(x.shape)} and {tuple(y.shape)}]")


def _matmul(name: str, bias: torch.Tensor | None, x: torch.Tensor, y: torch.Tensor, kwargs: dict) -> int:
    """``2·batch·M·N·K``, plus scaling by ``alpha`` and adding (and scaling by ``beta``) the bias of ``addmm``."""
    _check_inner(name, x, y)
    outputs = prod(int(d) for d in x.shape[:-1]) * int(y.shape[-1])
    flops = 2 * outputs * int(x.shape[-1])
    if bias is None:
        return flops
    alpha, beta = kwargs.get("alpha", 1), kwargs.get("beta", 1)
    flops += outputs if alpha != 1 else 0
    if beta == 1:
        flops += outputs
    elif beta != 0:
        flops += bias.numel() + outputs
    return flops


def _convolution(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None, transposed: bool,
                 out: torch.Tensor) -> int:
    spatial = x.shape[2:] if transposed else out.shape[2:]
    flops = 2 * prod(int(d) for d in w.shape) * prod(int(d) for d in spatial) * int(x.shape[0])
    return flops + (out.numel() if bias is not None else 0)


def _convolution_backward(args, kwargs, out) -> int:
    grad_out, x, w, bias, _, _, _, transposed, _, _, mask = args
    flops = 0
    if mask[0]:  # grad_input: a convolution of grad_out with the weight, transposed the other way
        flops += _convolution(grad_out, w, None, not transposed, out[0])
    if mask[1]:  # grad_weight: a convolution of the input with grad_out, batch as channels
        a, b = (grad_out, x) if transposed else (x, grad_out)
        flops += _convolution(a.transpose(0, 1), b.transpose(0, 1), None, False, out[1])
    if mask[2] and bias is not None:
        flops += int(grad_out.shape[1]) * (int(grad_out.shape[0]) * prod(int(d) for d in grad_out.shape[2:]) - 1)
    return flops


def _batch_norm(args, kwargs, out) -> int:
    x, training = args[0], args[5]
    n, c = x.numel(), x.shape[1]
    flops = 2 * c + 2 * n  # sqrt(var + eps); (x − mean) / std
    flops += 2 * n if args[1] is not None else 0  # · γ + β
    if training:
        flops += n + 2 * n + 2 * c  # batch mean; batch var, E[x²] − E[x]²
        flops += 6 * c if args[3] is not None else 0  # running mean and var
    return flops


def _batch_norm_backward(args, kwargs, out) -> int:
    grad_output, gamma, training, mask = args[0], args[2], args[-3], args[-1]
    n, c = grad_output.numel(), gamma.numel()
    flops = 0
    if training:
        if mask[0]:  # x̂, Σ grad (grad β), Σ grad·x̂ (grad γ), γ·invstd/n·(n·grad − Σ − Σ·x̂)
            flops += 2 * n + (n - c) + (2 * n - c) + (5 * n + 2 * c)
        else:
            flops += (2 * n + 2 * n - c) if mask[1] else 0
            flops += (n - c) if mask[2] else 0
        return flops
    flops += 2 * n if mask[0] else 0  # grad · invstd · γ
    flops += (2 * n + 2 * n - c) if mask[1] else 0
    flops += (n - c) if mask[2] else 0
    return flops


def _add(args, kwargs, out) -> int:
    if kwargs.get("alpha", 1) == 1:
        return out.numel()
    return (args[1].numel() if isinstance(args[1], torch.Tensor) else 1) + out.numel()


def _sdpa(args, kwargs, out) -> int:
    q, k, v = args[:3]
    b, h, s_q, d_q = q.shape
    return 2 * b * h * s_q * int(k.shape[2]) * (d_q + int(v.shape[3]))


def _sdpa_backward(args, kwargs, out) -> int:
    q, k, v = args[1:4]
    b, h, s_q, d_q = q.shape
    return 2 * b * h * s_q * int(k.shape[2]) * (3 * d_q + 2 * int(v.shape[3]))


_NEURON_FLOPS = {"add": 1, "mul": 1, "neg": 1, "cmp": 1, "sigmoid": 4}  # as the ATen rules below count them


def _neuron(args, kwargs, out) -> int:
    counts = neuron_ops.operation_counts(args)
    return sum(_NEURON_FLOPS.get(kind, 0) * n for kind, n in counts.items())


def _per_output(args, kwargs, out) -> int:
    return out.numel()


def _nothing(args, kwargs, out) -> int:
    return 0


class FlopCounter(BaseCounter):
    """Floating-point operations (FLOPs; 1 multiplication = 1 addition = 1 FLOP), for :class:`DispatchCounterMode`.

    Counts matrix products, convolutions (and their backward), batch norm (and backward), pooling, reductions,
    element-wise arithmetic and comparisons (1 per output), sigmoid (4 per output), scaled-dot-product attention,
    and sj neurons' equations (see :mod:`sj.op_counter.neuron_ops`); data movement counts 0. Operators without a
    rule are skipped (:meth:`DispatchCounterMode.get_unsupported` lists them).

    Args:
        extra_rules: ``{aten_op: rule(args, kwargs, out) -> int}`` added to (or replacing) the default rules.
        extra_ignore_modules: module types whose operators are not counted.
    """

    def __init__(self, extra_rules: dict[Any, Callable] | None = None,
                 extra_ignore_modules: list[type[nn.Module]] | None = None) -> None:
        super().__init__()
        rules: dict[Any, Callable] = {
            aten.mm.default: lambda args, kwargs, out: _matmul("mm", None, args[0], args[1], kwargs),
            aten.bmm.default: lambda args, kwargs, out: _matmul("bmm", None, args[0], args[1], kwargs),
            aten.addmm.default: lambda args, kwargs, out: _matmul("addmm", *args[:3], kwargs),
            aten.baddbmm.default: lambda args, kwargs, out: _matmul("baddbmm", *args[:3], kwargs),
            aten.convolution.default: lambda args, kwargs, out: _convolution(*args[:3], args[6], out),
            aten.convolution_backward.default: _convolution_backward,
            aten.native_batch_norm.default: _batch_norm,
            aten.native_batch_norm_backward.default: _batch_norm_backward,
            aten.max_pool2d_with_indices.default: lambda args, kwargs, out: out[0].numel() * (prod(args[1]) - 1),
            aten.max_pool2d_with_indices_backward.default: _nothing,
            aten.avg_pool2d.default: lambda args, kwargs, out: out.numel() * prod(args[1]),
            aten.mean.dim: lambda args, kwargs, out: args[0].numel(),
            **{op: lambda args, kwargs, out: args[0].numel() - out.numel() for op in aten_ops.SUM},
            **{op: _add for op in aten_ops.ADD_SUB},
            **{op: _per_output for op in (*aten_ops.NEG, *aten_ops.MUL_DIV, *aten_ops.COMPARE, *aten_ops.LOGICAL)},
            **{op: lambda args, kwargs, out: 4 * out.numel() for op in aten_ops.SIGMOID},
            **{op: _nothing for op in (*aten_ops.VIEWS, *aten_ops.FILLS, aten.stack.default, aten.clone.default,
                                       aten._to_copy.default, aten.select_backward.default)},
            **{op: _sdpa for op in aten_ops.SDPA},
            **{op: _sdpa_backward for op, _ in aten_ops.SDPA_BACKWARD},
            **{op: _neuron for op in neuron_ops.NEURON_EVENTS},
        }
        self._setup(rules, extra_rules, extra_ignore_modules)
