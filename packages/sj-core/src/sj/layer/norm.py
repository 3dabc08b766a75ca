"""Batch normalisations designed for SNNs: threshold-dependent BN (tdBN) and temporal effective BN (TEBN)."""

from __future__ import annotations

import torch
from torch import nn

from sj.base import StepModeError, StepModule
from sj.layer import stateless


class _ThresholdDependent:
    """tdBN initialisation: the affine scale starts at ``alpha · v_th`` and the bias at 0."""

    def __init__(self, alpha: float, v_th: float, *args, step_mode: str = "m", **kwargs) -> None:
        super().__init__(*args, step_mode=step_mode, **kwargs)
        self.alpha, self.v_th = float(alpha), float(v_th)
        if self.affine:
            with torch.no_grad():
                self.weight.fill_(self.alpha * self.v_th)
                self.bias.zero_()


class ThresholdDependentBatchNorm1d(_ThresholdDependent, stateless.BatchNorm1d):
    """tdBN (Zheng et al., 2021): BN over T·N whose affine scale starts at ``alpha · v_th`` (bias 0).

    Args:
        alpha: scale factor (1 for most layers, 1/√2 before a residual sum).
        v_th: the threshold of the neurons it feeds.
        args, kwargs: as :class:`torch.nn.BatchNorm1d` (``num_features`` first); ``step_mode`` defaults to 'm'.
    """


class ThresholdDependentBatchNorm2d(_ThresholdDependent, stateless.BatchNorm2d):
    """tdBN for ``[T, N, C, H, W]``; see :class:`ThresholdDependentBatchNorm1d`."""


class ThresholdDependentBatchNorm3d(_ThresholdDependent, stateless.BatchNorm3d):
    """tdBN for ``[T, N, C, D, H, W]``; see :class:`ThresholdDependentBatchNorm1d`."""


class _TEBN(nn.Module, StepModule):
    """BN over T·N followed by a learnable per-step scale ``λ[t]`` (initialised to 1). Multi-step only."""

    bn_class: type[nn.Module] = nn.BatchNorm2d
    sample_rank = 4

    def __init__(self, T: int, num_features: int, *args, step_mode: str = "m", **kwargs) -> None:
        super().__init__()
        if int(T) < 1:
            raise ValueError(f"{type(self).__name__}: T must be ≥ 1, got {T}")
        self.T = int(T)
        self.bn = self.bn_class(num_features, *args, **kwargs)
        self.scale = nn.Parameter(torch.ones(self.T))
        self.step_mode = step_mode

    def supported_step_modes(self) -> tuple[str, ...]:
        return ("m",)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() != self.sample_rank + 1 or x_seq.shape[0] != self.T:
            raise StepModeError(f"{type(self).__name__} needs a {self.sample_rank + 1}-D sequence with T={self.T} "
                                f"steps first, got shape {tuple(x_seq.shape)}")
        y = self.bn(x_seq.flatten(0, 1)).view(x_seq.shape)
        return y * self.scale.view(-1, *([1] * (x_seq.dim() - 1)))

    def extra_repr(self) -> str:
        return f"T={self.T}, step_mode={self.step_mode}"


class TemporalEffectiveBatchNorm1d(_TEBN):
    """TEBN (Duan et al., 2022) for ``[T, N, C, L]``: BN over T·N·L, then ``y[t] · λ[t]``.

    Args:
        T: number of time steps (the length of ``λ``).
        num_features: C. Further args as :class:`torch.nn.BatchNorm1d`.
    """

    bn_class, sample_rank = nn.BatchNorm1d, 3


class TemporalEffectiveBatchNorm2d(_TEBN):
    """TEBN for ``[T, N, C, H, W]``; see :class:`TemporalEffectiveBatchNorm1d`."""

    bn_class, sample_rank = nn.BatchNorm2d, 4


class TemporalEffectiveBatchNorm3d(_TEBN):
    """TEBN for ``[T, N, C, D, H, W]``; see :class:`TemporalEffectiveBatchNorm1d`."""

    bn_class, sample_rank = nn.BatchNorm3d, 5
