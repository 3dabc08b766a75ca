"""Memory access: bytes of the tensors each operator reads and writes (a lower bound of its traffic)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj.op_counter import aten_ops, neuron_ops
from sj.op_counter.base import BaseCounter

aten = torch.ops.aten
__all__ = ["MemoryAccessCounter", "nbytes"]


def nbytes(*tensors: Any) -> int:
    """Total bytes of the tensors among ``tensors`` (other values count 0)."""
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def _matmul(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape[-1] != y.shape[-2] or x.shape[:-2] != y.shape[:-2]:
        raise AssertionError(f"matmul: batch or inner dimensions mismatch [{tuple(x.shape)} and {tuple(y.shape)}]")


def _product(args, kwargs, out) -> int:
    """Operands and output of ``mm``/``bmm``; ``addmm``/``baddbmm`` also read the bias unless ``beta == 0``."""
    bias, (x, y) = (None, args[:2]) if len(args) == 2 or not isinstance(args[2], torch.Tensor) else (args[0], args[1:3])
    _matmul(x, y)
    return nbytes(x, y, out) + (nbytes(bias) if kwargs.get("beta", 1) != 0 else 0)


def _convolution_backward(args, kwargs, out) -> int:
    grad_out, x, w, mask = args[0], args[1], args[2], args[10]
    total = nbytes(grad_out)
    total += nbytes(w, out[0]) if mask[0] else 0
    total += nbytes(x, out[1]) if mask[1] else 0
    total += nbytes(out[2]) if mask[2] else 0
    return total


def _batch_norm(args, kwargs, out) -> int:
    x, weight, bias, mean, var, training = args[:6]
    return nbytes(x, mean, var, weight, bias) + (nbytes(*out[:3]) if training else nbytes(out[0]))


def _batch_norm_backward(args, kwargs, out) -> int:
    grad_output, x, gamma = args[:3]
    saved_mean, saved_invstd = args[5:7]
    training, mask = args[-3], args[-1]
    if training:
        if mask[0]:
            return nbytes(grad_output, x, saved_mean, saved_invstd, gamma)
        if mask[1]:
            return nbytes(grad_output, x, saved_mean, saved_invstd)
        return nbytes(grad_output) if mask[2] else 0
    total = nbytes(grad_output, saved_invstd, gamma) if mask[0] else 0
    if mask[1]:
        total += nbytes(x, saved_mean) + (0 if mask[0] else nbytes(saved_invstd, grad_output))
    if mask[2] and not mask[0] and not mask[1]:
        total += nbytes(grad_output)
    return total


def _sdpa(args, kwargs, out) -> int:
    primary = out[0] if isinstance(out, (tuple, list)) else out
    bias = args[3] if len(args) > 3 and isinstance(args[3], torch.Tensor) else kwargs.get(
        "attn_mask", kwargs.get("attn_bias"))
    return nbytes(*args[:3], bias, primary)


def _sdpa_backward(bias_index: int | None) -> Callable:
    def rule(args, kwargs, out) -> int:
        bias = (args[bias_index] if bias_index is not None and len(args) > bias_index
                and isinstance(args[bias_index], torch.Tensor) else kwargs.get("attn_mask", kwargs.get("attn_bias")))
        return nbytes(*args[:4], bias, *(out if isinstance(out, (tuple, list)) else (out,)))
    return rule


def _neuron(args, kwargs, out) -> int:
    """An sj neuron call reads the input, the initial states and the parameters once and writes the spikes, the last
    states (and ``v_seq`` when stored): the traffic of a fused kernel, whatever the backend."""
    return sum(nbytes(*ts) for ts in neuron_ops.call_tensors(args, out).values())


def _read_write(args, kwargs, out) -> int:
    return nbytes(args[0], out)


def _binary(args, kwargs, out) -> int:
    return nbytes(args[0], args[1] if len(args) > 1 else None, out)


def _nothing(args, kwargs, out) -> int:
    return 0


class MemoryAccessCounter(BaseCounter):
    """Memory traffic in bytes, for :class:`DispatchCounterMode`: the bytes of every tensor an operator reads and
    writes (``numel · element_size``), a lower bound that ignores how a kernel actually loads and stores. Views count
    0; an sj neuron call counts its inputs, states, parameters and outputs once (a fused kernel's traffic, see
    :mod:`sj.op_counter.neuron_ops`).

    Args:
        extra_rules: ``{aten_op: rule(args, kwargs, out) -> int}`` added to (or replacing) the default rules.
        extra_ignore_modules: module types whose operators are not counted.
    """

    def __init__(self, extra_rules: dict[Any, Callable] | None = None,
                 extra_ignore_modules: list[type[nn.Module]] | None = None) -> None:
        super().__init__()
        rules: dict[Any, Callable] = {
            **{op: _product for op in (aten.mm.default, aten.bmm.default, aten.addmm.default, aten.baddbmm.default)},
            aten.convolution.default: lambda args, kwargs, out: nbytes(*args[:3], out),
            aten.convolution_backward.default: _convolution_backward,
            aten.native_batch_norm.default: _batch_norm,
            aten.native_batch_norm_backward.default: _batch_norm_backward,
            aten.max_pool2d_with_indices.default: lambda args, kwargs, out: nbytes(args[0], *out),
            aten.max_pool2d_with_indices_backward.default: lambda args, kwargs, out: nbytes(args[0], args[1], out),
            aten.stack.default: lambda args, kwargs, out: nbytes(*args[0], out),
            aten.select_backward.default: _read_write,
            **{op: _read_write for op in (aten.avg_pool2d.default, aten.mean.dim, *aten_ops.SUM, *aten_ops.NEG,
                                          *aten_ops.SIGMOID, aten.clone.default, aten._to_copy.default)},
            **{op: _binary for op in (*aten_ops.ADD_SUB, *aten_ops.MUL_DIV, *aten_ops.COMPARE, *aten_ops.LOGICAL)},
            **{op: lambda args, kwargs, out: nbytes(out) for op in aten_ops.FILLS},
            **{op: _nothing for op in aten_ops.VIEWS},
            **{op: _sdpa for op in aten_ops.SDPA},
            **{op: _sdpa_backward(bias) for op, bias in aten_ops.SDPA_BACKWARD},
            **{op: _neuron for op in neuron_ops.NEURON_EVENTS},
        }
        self._setup(rules, extra_rules, extra_ignore_modules)
