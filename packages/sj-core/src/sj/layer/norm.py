"""Normalisations designed for SNNs: threshold-dependent BN (tdBN), temporal effective BN (TEBN), BN through time
(BNTT) and NeuNorm."""

from __future__ import annotations

import math

import torch
from torch import nn

from sj.base import MemoryModule, StateShapeError, StepModeError, check_state_recordable
from sj.layer import stateless
from sj.layer.misc import MultiStepOnly


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


class _TEBN(MultiStepOnly):
    """BN over T·N followed by a learnable per-step scale ``λ[t]`` (initialised to 1); multi-step only. Mixed in
    before a torch BatchNorm class, so the state_dict is SpikingJelly's: the BN's keys and ``scale``."""

    sample_rank = 4

    def __init__(self, T: int, num_features: int, *args, step_mode: str = "m", **kwargs) -> None:
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"{type(self).__name__}: T must be an int ≥ 1, got {T!r}")
        super().__init__(num_features, *args, **kwargs)
        self.T = T
        self.scale = nn.Parameter(torch.ones(T))
        self.step_mode = step_mode

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() != self.sample_rank + 1 or x_seq.shape[0] != self.T:
            raise StepModeError(f"{type(self).__name__} needs a {self.sample_rank + 1}-D sequence with T={self.T} "
                                f"steps first, got shape {tuple(x_seq.shape)}")
        y = super().forward(x_seq.flatten(0, 1)).view(x_seq.shape)
        return y * self.scale.view(-1, *([1] * (x_seq.dim() - 1)))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, T={self.T}, step_mode={self.step_mode}"


class TemporalEffectiveBatchNorm1d(_TEBN, nn.BatchNorm1d):
    """TEBN (Duan et al., 2022) for ``[T, N, C, L]``: BN over T·N·L, then ``y[t] · λ[t]``.

    Args:
        T: number of time steps (the length of ``λ``, parameter ``scale``).
        num_features: C. Further args as :class:`torch.nn.BatchNorm1d`.
    """

    sample_rank = 3


class TemporalEffectiveBatchNorm2d(_TEBN, nn.BatchNorm2d):
    """TEBN for ``[T, N, C, H, W]``; see :class:`TemporalEffectiveBatchNorm1d`."""

    sample_rank = 4


class TemporalEffectiveBatchNorm3d(_TEBN, nn.BatchNorm3d):
    """TEBN for ``[T, N, C, D, H, W]``; see :class:`TemporalEffectiveBatchNorm1d`."""

    sample_rank = 5


class _BNTT(MemoryModule):
    """One BatchNorm (without bias) per time step; memory ``t`` counts the steps since the last reset."""

    bn_class: type[nn.Module] = nn.BatchNorm2d

    def __init__(self, T: int, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"{type(self).__name__}: T must be an int ≥ 1, got {T!r}")
        self.T = T
        self.bn_list = nn.ModuleList(self.bn_class(num_features, eps, momentum, affine, track_running_stats)
                                     for _ in range(T))
        for bn in self.bn_list:
            bn.bias = None  # BNTT learns only a per-step scale
        self.register_memory("t", -1)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.t + 1
        if t >= self.T:
            raise StateShapeError(f"{type(self).__name__}: step {t} of a sequence but the layer has T={self.T} "
                                  "BatchNorms; call sj.functional.reset_net(net) between sequences")
        y = self.bn_list[t](x)
        self.t = t
        return y

    def extra_repr(self) -> str:
        return f"T={self.T}, step_mode={self.step_mode}"


class BatchNormThroughTime1d(_BNTT):
    """BNTT (Kim & Panda, 2021): a separate :class:`torch.nn.BatchNorm1d` without bias for each of the ``T`` steps
    (``bn_list[t]``), statistics and scales independent. Input ``[N, C(, L)]`` per step.

    Args:
        T: number of steps; the ``t``-th call after a reset uses ``bn_list[t]`` (more than T calls raise).
        num_features, eps, momentum, affine, track_running_stats: as the torch BatchNorm.
        step_mode: ``'s'`` (one step per call) or ``'m'`` (``[T', N, *]``, T' ≤ T steps per call).
    """

    bn_class = nn.BatchNorm1d


class BatchNormThroughTime2d(_BNTT):
    """BNTT for ``[N, C, H, W]`` per step; see :class:`BatchNormThroughTime1d`."""

    bn_class = nn.BatchNorm2d


class BatchNormThroughTime3d(_BNTT):
    """BNTT for ``[N, C, D, H, W]`` per step; see :class:`BatchNormThroughTime1d`."""

    bn_class = nn.BatchNorm3d


class NeuNorm(MemoryModule):
    """NeuNorm (Wu et al., 2019), placed after spiking neurons of a convolution layer: an auxiliary neuron integrates
    the spikes of all channels, ``X[t] = k·X[t−1] + (1 − k)/C² · Σ_c S[t, c]`` (``X[−1] = 0``, ``[N, 1, H, W]``), and is
    subtracted: ``y[t] = S[t] − w ⊙ X[t]``.

    Args:
        in_channels, height, width: C, H, W of the input ``[N, C, H, W]`` per step.
        k: the auxiliary neuron's decay (momentum). Default 0.9.
        shared_across_channels: ``w`` is ``[1, H, W]`` instead of ``[C, H, W]``. Default ``False``.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, in_channels: int, height: int, width: int, k: float = 0.9,
                 shared_across_channels: bool = False, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.register_memory("x", 0.0)
        self.k0 = float(k)
        self.k1 = (1.0 - self.k0) / in_channels**2
        self.w = nn.Parameter(torch.empty(1 if shared_across_channels else in_channels, height, width))
        nn.init.kaiming_uniform_(self.w, a=math.sqrt(5))

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        channels, height, width = self.w.shape
        if x.dim() != 4 or x.shape[2:] != (height, width) or channels not in (1, x.shape[1]):
            raise StepModeError(f"NeuNorm needs [N, {channels if channels > 1 else 'C'}, {height}, {width}] per step, "
                                f"got {tuple(x.shape)}")
        prev = self.x
        if isinstance(prev, torch.Tensor) and prev.shape != (x.shape[0], 1, *x.shape[2:]):
            raise StateShapeError(f"NeuNorm: state has shape {tuple(prev.shape)} but the input step has "
                                  f"{tuple(x.shape)}; call sj.functional.reset_net(net) first")
        check_state_recordable("NeuNorm", "x", prev, x, self.w)
        self.x = self.k0 * prev + self.k1 * x.sum(dim=1, keepdim=True)
        return x - self.w * self.x

    def extra_repr(self) -> str:
        return f"shape={tuple(self.w.shape)}, k={self.k0}, step_mode={self.step_mode}"
