"""Activation statistics for the converter: the scale λ of each ReLU, from data.

Modes (SpikingJelly's names):

- ``'max'``: λ = the largest activation of a batch (MaxNorm).
- ``'p%'`` such as ``'99.9%'``: λ = the p-th percentile of a batch's activations (RobustNorm; nearest rank: the
  smallest value that is ≥ p % of them); outliers above it are clipped, which usually lowers the SNN's latency.
- a float ``f`` in ``(0, 1]``: λ = ``f`` × the batch maximum.

Per batch statistics are combined with ``momentum``: ``None`` → their plain mean over batches; a float ``m`` in
``(0, 1]`` → λ ← (1 − m)·λ + m·λ_batch (the first batch initialises λ). With ``channelwise`` each output channel
(dimension 1) gets its own λ.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def parse_mode(mode: str | float) -> tuple[str, float]:
    """Validate ``mode`` and return ``('max', 1)``, ``('percentile', p)`` with p in (0, 100] or ``('fraction', f)``."""
    if isinstance(mode, str):
        if mode == "max":
            return "max", 1.0
        if mode.endswith("%"):
            try:
                p = float(mode[:-1])
            except ValueError:
                p = math.nan
            if 0.0 < p <= 100.0:
                return "percentile", p
        raise ValueError(f"ann2snn: mode must be 'max', a percentile such as '99.9%' or a float in (0, 1], got "
                         f"{mode!r}")
    if isinstance(mode, bool) or not isinstance(mode, (int, float)) or not 0.0 < float(mode) <= 1.0:
        raise ValueError(f"ann2snn: a numeric mode is a fraction of the maximum in (0, 1], got {mode!r}")
    return "fraction", float(mode)


def check_momentum(momentum: float | None) -> float | None:
    """``momentum`` validated: ``None`` (average the batches) or a float in (0, 1]; else ``ValueError``."""
    if momentum is None:
        return None
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 < float(momentum) <= 1.0:
        raise ValueError(f"ann2snn: momentum must be None or in (0, 1], got {momentum!r}")
    return float(momentum)


def batch_statistic(x: torch.Tensor, mode: str | float, channelwise: bool) -> torch.Tensor:
    """λ of one batch ``x`` ``[N, C, *]`` (``[N, *]`` without ``channelwise``): a 0-d tensor, or ``[C]``."""
    kind, value = parse_mode(mode)
    if channelwise:
        if x.dim() < 2:
            raise ValueError(f"ann2snn: channel-wise scaling needs activations [N, C, *], got shape {tuple(x.shape)}")
        flat = x.detach().transpose(0, 1).flatten(1)
    else:
        flat = x.detach().reshape(1, -1)
    if kind == "percentile":
        k = max(1, math.ceil(value / 100.0 * flat.shape[1]))
        stat = flat.kthvalue(k, dim=1).values
    else:
        stat = flat.amax(dim=1) * value
    return stat if channelwise else stat[0]


class ActivationObserver(nn.Module):
    """A ReLU that records the running scale λ of its output (see the module docstring for the modes).

    Attributes:
        scale: λ after the batches seen so far (``None`` before the first); shape ``[]`` or ``[C]``.
        num_batches: batches seen.
        sample_rank: rank of one batch of activations (to shape a per-channel λ for broadcasting).
    """

    def __init__(self, mode: str | float = "max", momentum: float | None = 0.1, channelwise: bool = False) -> None:
        super().__init__()
        parse_mode(mode)
        self.mode, self.momentum, self.channelwise = mode, check_momentum(momentum), bool(channelwise)
        self.scale: torch.Tensor | None = None
        self.num_batches = 0
        self.sample_rank = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(x)
        stat = batch_statistic(y, self.mode, self.channelwise).to(torch.float64)
        self.sample_rank = y.dim()
        if self.scale is None:
            self.scale = stat
        else:
            if stat.shape != self.scale.shape:
                raise ValueError(f"ann2snn: activations changed channel count during calibration "
                                 f"({tuple(self.scale.shape)} → {tuple(stat.shape)})")
            w = self.momentum if self.momentum is not None else 1.0 / (self.num_batches + 1)
            self.scale = (1.0 - w) * self.scale + w * stat
        self.num_batches += 1
        return y

    def broadcast_scale(self) -> torch.Tensor:
        """λ shaped to broadcast against one batch of activations (``[C, 1, ...]`` when channel-wise)."""
        if self.scale is None:
            raise RuntimeError("ann2snn: an activation was never reached during calibration (no batch passed it)")
        s = self.scale
        return s.view(-1, *([1] * (self.sample_rank - 2))) if self.channelwise else s

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, momentum={self.momentum}, channelwise={self.channelwise}"
