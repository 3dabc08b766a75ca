"""Synaptic operations of matrix products and convolutions whose operand is a spike tensor (shared by the counters).

A spike (an operand element equal to 1) makes its synapses accumulate their weights: the count is the number of
weight uses an event-driven implementation performs, not ``M·N·K``. With both operands binary (spike × spike, as in
spiking self-attention), the count is the number of coinciding ones, ``sum(x @ y)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from math import prod

import torch


@contextmanager
def untraced() -> Iterator[None]:
    """The counters' own tensor arithmetic: no gradient, and invisible to dispatch modes (this one and others)."""
    guard = torch._C._ExcludeDispatchKeyGuard(torch._C.DispatchKeySet(torch._C.DispatchKey.Python))
    with torch.no_grad(), guard:
        yield


def is_spike(x: torch.Tensor | None) -> bool:
    """Whether ``x`` is a spike tensor (every element 0 or 1, or ``bool``); the check is invisible to counting modes."""
    if not isinstance(x, torch.Tensor):
        return False
    with untraced():
        return x.dtype == torch.bool or bool((x.eq(0) | x.eq(1)).all())


def spike_count(x: torch.Tensor | None) -> int | None:
    """The number of ones of a spike tensor (all elements 0 or 1), ``None`` if ``x`` is not one."""
    if not is_spike(x):
        return None
    with untraced():
        return int(x.count_nonzero())


def spike_matmul_ops(x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, product: torch.Tensor | None = None
                     ) -> int:
    """Synaptic operations of ``x @ y`` (``[.., M, K] @ [.., K, N]``): ``sum(x @ y)`` when both are spikes (``product``:
    ``x @ y`` if already computed), ``ones(x)·N`` or ``ones(y)·M`` when one is, 0 otherwise or when scaled by
    ``alpha ≠ 1`` (no longer a pure accumulation)."""
    nnz_x, nnz_y = spike_count(x), spike_count(y)
    if nnz_x is not None and nnz_y is not None:
        with untraced():
            if product is None:
                product = torch.matmul(x.double(), y.double())
            return int(product.sum(dtype=torch.float64))
    if alpha != 1:
        return 0
    if nnz_x is not None:
        return nnz_x * int(y.shape[-1])
    if nnz_y is not None:
        return nnz_y * int(x.shape[-2])
    return 0


def spike_conv_weight_uses(x: torch.Tensor, weight_shape: Sequence[int], stride, padding, dilation, groups: int,
                           transposed: bool = False, output_padding=None) -> int:
    """Weight uses of a convolution whose input ``x`` is a spike tensor: for every output position, the ones in its
    receptive field times the output channels of the group (a transposed convolution: ones scattered by every
    kernel element)."""
    with untraced():
        xf = x.float()
        if transposed:
            ones = torch.ones(tuple(weight_shape), dtype=torch.float32, device=x.device)
            out = torch.ops.aten.convolution.default(xf, ones, None, stride, padding, dilation, True,
                                                     output_padding or [0] * len(stride), groups)
            return int(out.sum(dtype=torch.float64))
        kernel = torch.ones((groups, weight_shape[1], *weight_shape[2:]), dtype=torch.float32, device=x.device)
        occupancy = torch.ops.aten.convolution.default(xf, kernel, None, stride, padding, dilation, False,
                                                       [0] * len(stride), groups)
        return int(occupancy.sum(dtype=torch.float64)) * (int(weight_shape[0]) // groups)


def spike_conv_ops(args: tuple, out: torch.Tensor) -> int:
    """Synaptic operations of an ``aten.convolution`` call: coinciding ones of spike input and binary weight, the
    weight uses of a spike input, ``ones(w)`` per output position for a binary weight, 0 for dense operands."""
    x, w, _, stride, padding, dilation, transposed, output_padding, groups = args[:9]
    nnz_x, nnz_w = spike_count(x), spike_count(w)
    if nnz_x is not None and nnz_w is not None:
        with untraced():
            coincide = torch.ops.aten.convolution.default(x.double(), w.double(), None, stride, padding, dilation,
                                                          transposed, output_padding, groups)
            return int(coincide.sum(dtype=torch.float64))
    if nnz_x is not None:
        return spike_conv_weight_uses(x, w.shape, stride, padding, dilation, groups, transposed, output_padding)
    if nnz_w is not None:
        ref = x if transposed else out
        return nnz_w * int(ref.shape[0]) * prod(int(d) for d in ref.shape[2:])
    return 0
