"""Step-mode wrappers of stateless torch modules.

Each class is the torch module plus a ``step_mode``: in ``'s'`` it is the torch module (input ``[N, *]``); in ``'m'``
it folds time into the batch (``[T, N, *]`` → ``[T·N, *]``), applies the torch module once and unfolds. So a
``BatchNorm`` in ``'m'`` computes its statistics over T·N. The input rank is checked in both modes and a wrong rank
raises :class:`~sj.base.StepModeError` naming the expected layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sj.base import StepModeError, StepModule


class SeqFoldMixin(StepModule):
    """Adds ``step_mode`` to a stateless torch module (put it first in the bases).

    Subclasses set ``sample_ranks`` (the allowed ranks of a single-step input, batch included; ``None`` means any rank
    ≥ ``min_rank``) and ``layout`` (a human-readable single-step layout used in error messages).
    """

    sample_ranks: tuple[int, ...] | None = None
    min_rank: int = 1
    layout: str = "[N, *]"

    def __init__(self, *args, step_mode: str = "s", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.step_mode = step_mode

    def _check_rank(self, x: torch.Tensor, multi: bool) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a torch.Tensor, got {type(x).__name__}")
        rank = x.dim() - int(multi)
        ok = rank >= self.min_rank if self.sample_ranks is None else rank in self.sample_ranks
        if not ok:
            layout = "[T, " + self.layout[1:] if multi else self.layout
            ranks = (f"≥ {self.min_rank + int(multi)}" if self.sample_ranks is None
                     else " or ".join(str(r + int(multi)) for r in self.sample_ranks))
            raise StepModeError(f"{type(self).__name__} in step_mode={self.step_mode!r} needs {ranks}-D input "
                                f"{layout}, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        multi = self.step_mode == "m"
        self._check_rank(x, multi)
        if not multi:
            return super().forward(x)
        T, N = x.shape[:2]
        y = super().forward(x.flatten(0, 1))
        if isinstance(y, tuple):  # e.g. MaxPool with return_indices=True: (values, indices), both unfolded
            return tuple(t.view(T, N, *t.shape[1:]) for t in y)
        return y.view(T, N, *y.shape[1:])

    def extra_repr(self) -> str:
        base = super().extra_repr()
        return f"{base}, step_mode={self.step_mode}" if base else f"step_mode={self.step_mode}"


class Linear(SeqFoldMixin, nn.Linear):
    """:class:`torch.nn.Linear` with a step mode. Input ``[N, *, in_features]`` ('s') / ``[T, N, *, in_features]``."""

    min_rank, layout = 1, "[N, *, in_features]"


class Conv1d(SeqFoldMixin, nn.Conv1d):
    """:class:`torch.nn.Conv1d` with a step mode. Input ``[N, C, L]`` ('s') / ``[T, N, C, L]`` ('m')."""

    sample_ranks, layout = (3,), "[N, C, L]"


class Conv2d(SeqFoldMixin, nn.Conv2d):
    """:class:`torch.nn.Conv2d` with a step mode. Input ``[N, C, H, W]`` ('s') / ``[T, N, C, H, W]`` ('m')."""

    sample_ranks, layout = (4,), "[N, C, H, W]"


class Conv3d(SeqFoldMixin, nn.Conv3d):
    """:class:`torch.nn.Conv3d` with a step mode. Input ``[N, C, D, H, W]`` ('s') / ``[T, N, C, D, H, W]`` ('m')."""

    sample_ranks, layout = (5,), "[N, C, D, H, W]"


class ConvTranspose1d(SeqFoldMixin, nn.ConvTranspose1d):
    """:class:`torch.nn.ConvTranspose1d` with a step mode. Input ``[N, C, L]`` ('s') / ``[T, N, C, L]`` ('m')."""

    sample_ranks, layout = (3,), "[N, C, L]"


class ConvTranspose2d(SeqFoldMixin, nn.ConvTranspose2d):
    """:class:`torch.nn.ConvTranspose2d` with a step mode. Input ``[N, C, H, W]`` ('s') / ``[T, N, C, H, W]``."""

    sample_ranks, layout = (4,), "[N, C, H, W]"


class ConvTranspose3d(SeqFoldMixin, nn.ConvTranspose3d):
    """:class:`torch.nn.ConvTranspose3d` with a step mode. Input ``[N, C, D, H, W]`` ('s') / ``[T, N, C, D, H, W]``."""

    sample_ranks, layout = (5,), "[N, C, D, H, W]"


class WSConv2d(Conv2d):
    """:class:`Conv2d` with scaled weight standardisation (Brock et al., 2021): each output filter is standardised,
    ``Ŵ = gain · (W − mean(W)) / sqrt(var(W)·fan_in + eps)`` (mean and unbiased variance over the filter's
    ``fan_in = C_in/groups · kH · kW`` entries), before the convolution.

    Args:
        as :class:`Conv2d`, then ``step_mode``, ``gain`` (learn a per-filter scale ``[C_out, 1, 1, 1]``, initialised to
        1; default ``True``) and ``eps`` (default 1e-4).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", step_mode: str = "s",
                 gain: bool = True, eps: float = 1e-4) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, step_mode=step_mode)
        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1)) if gain else None
        self.eps = float(eps)

    def get_weight(self) -> torch.Tensor:
        """The standardised (and scaled) weight the convolution uses."""
        return standardize_weight(self.weight, self.gain, self.eps)

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        return super()._conv_forward(x, standardize_weight(weight, self.gain, self.eps), bias)


def standardize_weight(weight: torch.Tensor, gain: torch.Tensor | None, eps: float) -> torch.Tensor:
    """``gain · (W − mean) / sqrt(var·fan_in + eps)`` per output unit (row of ``weight``; unbiased variance)."""
    dims = tuple(range(1, weight.dim()))
    fan_in = weight[0].numel()
    mean = weight.mean(dims, keepdim=True)
    var = weight.var(dims, keepdim=True)
    w = (weight - mean) / (var * fan_in + eps) ** 0.5
    return w if gain is None else w * gain


class _WSLinear(nn.Linear):
    def __init__(self, in_features: int, out_features: int, bias: bool, gain: bool, eps: float) -> None:
        super().__init__(in_features, out_features, bias)
        self.gain = nn.Parameter(torch.ones(self.out_features, 1)) if gain else None
        self.eps = float(eps)

    def get_weight(self) -> torch.Tensor:
        """The standardised (and scaled) weight the layer uses."""
        return standardize_weight(self.weight, self.gain, self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.get_weight(), self.bias)


class WSLinear(SeqFoldMixin, _WSLinear):
    """:class:`Linear` with scaled weight standardisation (see :class:`WSConv2d`; ``gain`` is ``[out, 1]``).

    Args: ``in_features, out_features, bias=True, step_mode='s', gain=True, eps=1e-4`` (SpikingJelly's order).
    """

    min_rank, layout = 1, "[N, *, in_features]"

    def __init__(self, in_features: int, out_features: int, bias: bool = True, step_mode: str = "s",
                 gain: bool = True, eps: float = 1e-4) -> None:
        super().__init__(in_features, out_features, bias, gain, eps, step_mode=step_mode)


class BatchNorm1d(SeqFoldMixin, nn.BatchNorm1d):
    """:class:`torch.nn.BatchNorm1d` with a step mode; in 'm' the statistics are over T·N (and L).

    Input ``[N, C]`` or ``[N, C, L]`` ('s'); ``[T, N, C]`` or ``[T, N, C, L]`` ('m').
    """

    sample_ranks, layout = (2, 3), "[N, C] or [N, C, L]"


class BatchNorm2d(SeqFoldMixin, nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` with a step mode; in 'm' the statistics are over T·N·H·W."""

    sample_ranks, layout = (4,), "[N, C, H, W]"


class BatchNorm3d(SeqFoldMixin, nn.BatchNorm3d):
    """:class:`torch.nn.BatchNorm3d` with a step mode; in 'm' the statistics are over T·N·D·H·W."""

    sample_ranks, layout = (5,), "[N, C, D, H, W]"


class GroupNorm(SeqFoldMixin, nn.GroupNorm):
    """:class:`torch.nn.GroupNorm` with a step mode (per sample and step, so folding does not mix steps)."""

    min_rank, layout = 2, "[N, C, *]"


class MaxPool1d(SeqFoldMixin, nn.MaxPool1d):
    """:class:`torch.nn.MaxPool1d` with a step mode. Input ``[N, C, L]`` ('s') / ``[T, N, C, L]`` ('m')."""

    sample_ranks, layout = (3,), "[N, C, L]"


class MaxPool2d(SeqFoldMixin, nn.MaxPool2d):
    """:class:`torch.nn.MaxPool2d` with a step mode. Input ``[N, C, H, W]`` ('s') / ``[T, N, C, H, W]`` ('m')."""

    sample_ranks, layout = (4,), "[N, C, H, W]"


class MaxPool3d(SeqFoldMixin, nn.MaxPool3d):
    """:class:`torch.nn.MaxPool3d` with a step mode. Input ``[N, C, D, H, W]`` ('s') / ``[T, N, C, D, H, W]``."""

    sample_ranks, layout = (5,), "[N, C, D, H, W]"


class _MaxUnpoolFold(SeqFoldMixin):
    """Max-unpooling with a step mode: ``forward(x, indices, output_size=None)``, ``indices`` shaped as ``x`` (from
    the matching ``MaxPool`` with ``return_indices=True``); in 'm' both are folded over time."""

    def forward(self, x: torch.Tensor, indices: torch.Tensor, output_size=None) -> torch.Tensor:
        multi = self.step_mode == "m"
        self._check_rank(x, multi)
        if not isinstance(indices, torch.Tensor) or indices.shape != x.shape:
            got = tuple(indices.shape) if isinstance(indices, torch.Tensor) else type(indices).__name__
            raise ValueError(f"{type(self).__name__}: indices must have the shape of x {tuple(x.shape)}, got {got}")
        if output_size is not None:  # torch takes the spatial sizes (or N, C first); a sequence shape has T too
            output_size = list(output_size)[-(x.dim() - 2 - int(multi)):]
        unpool = super(SeqFoldMixin, self).forward  # the torch module's forward
        if not multi:
            return unpool(x, indices, output_size)
        T, N = x.shape[:2]
        y = unpool(x.flatten(0, 1), indices.flatten(0, 1), output_size)
        return y.view(T, N, *y.shape[1:])


class MaxUnpool1d(_MaxUnpoolFold, nn.MaxUnpool1d):
    """:class:`torch.nn.MaxUnpool1d` with a step mode. Input ``[N, C, L]`` ('s') / ``[T, N, C, L]`` ('m')."""

    sample_ranks, layout = (3,), "[N, C, L]"


class MaxUnpool2d(_MaxUnpoolFold, nn.MaxUnpool2d):
    """:class:`torch.nn.MaxUnpool2d` with a step mode. Input ``[N, C, H, W]`` ('s') / ``[T, N, C, H, W]`` ('m')."""

    sample_ranks, layout = (4,), "[N, C, H, W]"


class MaxUnpool3d(_MaxUnpoolFold, nn.MaxUnpool3d):
    """:class:`torch.nn.MaxUnpool3d` with a step mode. Input ``[N, C, D, H, W]`` ('s') / ``[T, N, C, D, H, W]``."""

    sample_ranks, layout = (5,), "[N, C, D, H, W]"


class AvgPool1d(SeqFoldMixin, nn.AvgPool1d):
    """:class:`torch.nn.AvgPool1d` with a step mode. Input ``[N, C, L]`` ('s') / ``[T, N, C, L]`` ('m')."""

    sample_ranks, layout = (3,), "[N, C, L]"


class AvgPool2d(SeqFoldMixin, nn.AvgPool2d):
    """:class:`torch.nn.AvgPool2d` with a step mode. Input ``[N, C, H, W]`` ('s') / ``[T, N, C, H, W]`` ('m')."""

    sample_ranks, layout = (4,), "[N, C, H, W]"


class AvgPool3d(SeqFoldMixin, nn.AvgPool3d):
    """:class:`torch.nn.AvgPool3d` with a step mode. Input ``[N, C, D, H, W]`` ('s') / ``[T, N, C, D, H, W]``."""

    sample_ranks, layout = (5,), "[N, C, D, H, W]"


class AdaptiveAvgPool1d(SeqFoldMixin, nn.AdaptiveAvgPool1d):
    """:class:`torch.nn.AdaptiveAvgPool1d` with a step mode. Input ``[N, C, L]`` ('s') / ``[T, N, C, L]``."""

    sample_ranks, layout = (3,), "[N, C, L]"


class AdaptiveAvgPool2d(SeqFoldMixin, nn.AdaptiveAvgPool2d):
    """:class:`torch.nn.AdaptiveAvgPool2d` with a step mode. Input ``[N, C, H, W]`` ('s') / ``[T, N, C, H, W]``."""

    sample_ranks, layout = (4,), "[N, C, H, W]"


class AdaptiveAvgPool3d(SeqFoldMixin, nn.AdaptiveAvgPool3d):
    """:class:`torch.nn.AdaptiveAvgPool3d` with a step mode. Input ``[N, C, D, H, W]`` ('s') / ``[T, N, *]``."""

    sample_ranks, layout = (5,), "[N, C, D, H, W]"


class Flatten(SeqFoldMixin, nn.Flatten):
    """:class:`torch.nn.Flatten` with a step mode. ``start_dim``/``end_dim`` count in the single-step layout
    ``[N, *]`` in both modes (default ``start_dim=1``: ``[T, N, C, H, W]`` → ``[T, N, C·H·W]`` in 'm')."""

    min_rank, layout = 2, "[N, *]"


class Upsample(SeqFoldMixin, nn.Upsample):
    """:class:`torch.nn.Upsample` with a step mode. Input ``[N, C, L]``, ``[N, C, H, W]`` or ``[N, C, D, H, W]``."""

    sample_ranks, layout = (3, 4, 5), "[N, C, *spatial] with 1-3 spatial dims"


class _Voting(nn.Module):
    def __init__(self, voting_size: int) -> None:
        super().__init__()
        if int(voting_size) < 1:
            raise ValueError(f"VotingLayer: voting_size must be ≥ 1, got {voting_size}")
        self.voting_size = int(voting_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.voting_size:
            raise ValueError(f"VotingLayer: the last dimension ({x.shape[-1]}) is not a multiple of voting_size="
                             f"{self.voting_size}")
        return x.unflatten(-1, (-1, self.voting_size)).mean(-1)

    def extra_repr(self) -> str:
        return f"voting_size={self.voting_size}"


class VotingLayer(SeqFoldMixin, _Voting):
    """Average groups of ``voting_size`` consecutive outputs: ``[N, C·voting_size]`` → ``[N, C]`` (default 10)."""

    min_rank, layout = 2, "[N, C*voting_size]"
