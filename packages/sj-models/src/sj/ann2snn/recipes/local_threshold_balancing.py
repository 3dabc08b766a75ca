"""SpikingJelly 2.0's local threshold balancing recipe: per-channel thresholds grown during calibration by the
activations that overflow them, half-threshold IF neurons (rounding rates), max pooling before the neuron.

The hook ``ltb_hook_{i}`` passes ``min(relu(x), θ)`` on (so the layers after it calibrate on clipped activations) and
updates ``θ ← max(θ + 2·mean(relu(x) − θ)⁺, eps)`` per channel (the mean over every other dimension), starting
from 0. Each ReLU then becomes ``ltb_spiking_{i}`` = ``ChannelVoltageScaler(1/θ) → IF (V_th = 1, starting at 0.5,
soft reset) → ChannelVoltageScaler(θ)``; a ``nn.MaxPool2d`` that is a ReLU's only user is calibrated and applied
before the neuron.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import fx, nn

from sj.ann2snn.modules import ChannelVoltageScaler, SpikingActivation, TimeContext
from sj.ann2snn.recipes.rate_coding import RateCodingRecipe
from sj.neuron import HalfThresholdIFNode

if TYPE_CHECKING:
    from sj.ann2snn.converter import FXConverter

__all__ = ["LocalThresholdBalancingRecipe"]


class LocalThresholdBalancingHook(nn.Module):
    """Clip ``relu(x)`` to the per-channel threshold ``θ`` and grow ``θ`` by twice the mean overflow (see the module
    docstring)."""

    def __init__(self, channel_dim: int = 1, eps: float = 1e-6) -> None:
        super().__init__()
        self.channel_dim, self.eps = channel_dim, float(eps)
        self.register_buffer("threshold", torch.empty(0))

    def _view(self, values: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[dim] = values.numel()
        return values.reshape(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError("LocalThresholdBalancingRecipe requires activations with at least 2 dimensions, got "
                             f"shape {tuple(x.shape)}")
        dim = self.channel_dim + x.dim() if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < x.dim():
            raise ValueError(f"channel_dim={self.channel_dim} is out of range for activations of shape "
                             f"{tuple(x.shape)}")
        positive = torch.clamp(x, min=0)
        stat = positive.detach()
        stat = stat.float() if stat.dtype in (torch.float16, torch.bfloat16) else stat
        if self.threshold.numel() == 0:
            self.threshold = torch.zeros(x.shape[dim], device=stat.device, dtype=stat.dtype)
        th = self.threshold.to(stat)
        others = tuple(d for d in range(stat.dim()) if d != dim)
        th = torch.clamp(th + 2.0 * torch.clamp(stat - self._view(th, stat, dim), min=0).mean(dim=others),
                         min=self.eps)
        self.threshold = th.detach()
        return torch.minimum(positive, self._view(th.to(x), x, dim))

    def compute_threshold(self) -> torch.Tensor:
        """The balanced per-channel thresholds (raises if nothing was recorded or one is not finite positive)."""
        if self.threshold.numel() == 0:
            raise ValueError("No calibration activations have been recorded.")
        if not torch.isfinite(self.threshold).all() or (self.threshold <= 0).any():
            raise ValueError("Balanced thresholds must be finite positive values.")
        return self.threshold.detach()


class LocalThresholdBalancingRecipe(RateCodingRecipe):
    """Local threshold balancing (see the module docstring).

    Args:
        dataloader: calibration batches (as :class:`~sj.ann2snn.recipes.rate_coding.RateCodingRecipe`).
        channel_dim: the channel dimension of an activation. Default 1.
        fuse_flag: fold Conv-BN pairs first. Default ``True``.
        eps: the smallest threshold. Default 1e-6.
    """

    def __init__(self, dataloader: Iterable, channel_dim: int = 1, fuse_flag: bool = True, eps: float = 1e-6) -> None:
        super().__init__(dataloader, fuse_flag=fuse_flag, channel_wise=True, channel_dim=channel_dim, eps=eps)

    def validate(self, converter: FXConverter) -> None:
        if self.dataloader is None:
            raise ValueError("LocalThresholdBalancingRecipe requires a dataloader.")
        if isinstance(self.channel_dim, bool) or not isinstance(self.channel_dim, int):
            raise ValueError(f"channel_dim must be int, got {self.channel_dim!r}")
        if not self.eps > 0:
            raise ValueError(f"eps must be positive, got {self.eps!r}")

    def _hook(self) -> tuple[str, nn.Module]:
        return "ltb_hook_", LocalThresholdBalancingHook(self.channel_dim, self.eps)

    def _pool_first(self) -> bool:
        return True

    def _block_name(self, hook_name: str) -> str:
        return hook_name.replace("ltb_hook_", "ltb_spiking_")

    def _block(self, hook: nn.Module, hook_node: fx.Node, time: TimeContext) -> SpikingActivation:
        th = hook.compute_threshold()
        return SpikingActivation(ChannelVoltageScaler(1.0 / th, self.channel_dim), HalfThresholdIFNode(),
                                 ChannelVoltageScaler(th, self.channel_dim), time)
