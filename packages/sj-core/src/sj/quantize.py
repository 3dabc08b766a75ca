"""Quantisers with straight-through gradients (SpikingJelly's ``activation_based.quantize``).

Each function computes a piecewise-constant map in forward and passes the gradient through in backward: unchanged
(``∂y/∂x = 1``), or unchanged inside a window and 0 outside (:func:`clamp`, :func:`multi_level_spike_count`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

__all__ = ["affine_k_bit_quantize", "ceil", "clamp", "clamp_by_linear", "floor", "k_bit_quantize",
           "multi_level_spike_count", "round", "step_quantize", "straight_through"]


class _StraightThrough(torch.autograd.Function):
    """``fn(x)`` forward; backward passes the gradient where ``lo ≤ x ≤ hi`` (everywhere when no window)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor],
                window: tuple[float, float] | None) -> torch.Tensor:
        ctx.window = window
        if window is not None:
            ctx.save_for_backward(x)
        return fn(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if ctx.window is None:
            return grad, None, None
        (x,) = ctx.saved_tensors
        lo, hi = ctx.window
        return grad * ((x >= lo) & (x <= hi)).to(grad.dtype), None, None


def straight_through(x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor],
                     window: tuple[float, float] | None = None, name: str = "straight_through") -> torch.Tensor:
    """``fn(x)`` in forward; in backward the incoming gradient, unchanged (or zeroed where ``x`` is outside
    ``window = (low, high)``). ``fn`` is any map that keeps the shape (a quantiser, a random draw)."""
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name}: x must be a floating-point tensor, got {got}")
    return _StraightThrough.apply(x, fn, window)


def _number(name: str, value, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or (
            positive and not value > 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number, got {value!r}")
    return float(value)


def round(x: torch.Tensor) -> torch.Tensor:
    """``torch.round(x)`` (half to even), gradient 1."""
    return straight_through(x, torch.round, name="round")


def ceil(x: torch.Tensor) -> torch.Tensor:
    """``torch.ceil(x)``, gradient 1."""
    return straight_through(x, torch.ceil, name="ceil")


def floor(x: torch.Tensor) -> torch.Tensor:
    """``torch.floor(x)``, gradient 1."""
    return straight_through(x, torch.floor, name="floor")


def clamp(x: torch.Tensor, min_value: float, max_value: float) -> torch.Tensor:
    """``torch.clamp(x, min_value, max_value)``; gradient 1 where ``min_value ≤ x ≤ max_value``, else 0."""
    lo, hi = _number("clamp: min_value", min_value), _number("clamp: max_value", max_value)
    if lo > hi:
        raise ValueError(f"clamp: min_value ({lo}) must be ≤ max_value ({hi})")
    return straight_through(x, lambda v: v.clamp(lo, hi), (lo, hi), "clamp")


def step_quantize(x: torch.Tensor, step: float = 1.0) -> torch.Tensor:
    """The nearest multiple of ``step`` (> 0): ``round(x / step) · step``, gradient 1."""
    step = _number("step_quantize: step", step, positive=True)
    return straight_through(x, lambda v: torch.round(v / step) * step, name="step_quantize")


def multi_level_spike_count(x: torch.Tensor, max_spike_count: int,
                            grad_window: tuple[float, float] | None = None) -> torch.Tensor:
    """Spike counts ``round(clamp(x, 0, max_spike_count))`` (a neuron that may fire up to ``max_spike_count`` times
    per step); gradient 1 inside ``grad_window`` (default ``[0, max_spike_count]``), else 0."""
    if isinstance(max_spike_count, bool) or not isinstance(max_spike_count, numbers.Integral) or max_spike_count < 0:
        raise ValueError(f"multi_level_spike_count: max_spike_count must be an int ≥ 0, got {max_spike_count!r}")
    top = int(max_spike_count)
    lo, hi = (0.0, float(top)) if grad_window is None else (
        _number("multi_level_spike_count: grad_window[0]", grad_window[0]),
        _number("multi_level_spike_count: grad_window[1]", grad_window[1]))
    if lo > hi:
        raise ValueError(f"multi_level_spike_count: grad_window must be (low, high) with low ≤ high, got {grad_window}")
    return straight_through(x, lambda v: torch.round(v.clamp(0, top)), (lo, hi), "multi_level_spike_count")


def k_bit_quantize(x: torch.Tensor, k: int) -> torch.Tensor:
    """DoReFa's k-bit quantiser (Zhou et al., 2016): ``x ∈ [0, 1]`` to the nearest ``i / (2^k − 1)``, gradient 1.

    Args:
        x: input in ``[0, 1]`` (squash it first, e.g. :func:`clamp_by_linear` or a sigmoid).
        k: bits, an int ≥ 1.
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k_bit_quantize: k must be an int ≥ 1, got {k!r}")
    levels = float(2 ** int(k) - 1)
    return straight_through(x, lambda v: torch.round(v * levels) / levels, name="k_bit_quantize")


def affine_k_bit_quantize(x: torch.Tensor, k: int, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``w · k_bit_quantize(x, k) + b``."""
    return w * k_bit_quantize(x, k) + b


def clamp_by_linear(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Map ``x`` linearly into ``[0, 1)``: ``(x − min x) / (max x − min x + eps)`` (min and max over all elements)."""
    eps = _number("clamp_by_linear: eps", eps)
    x_min = x.min()
    return (x - x_min) / (x.max() + eps - x_min)
