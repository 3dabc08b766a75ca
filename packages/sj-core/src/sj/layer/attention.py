"""Attention layers for spiking networks (SpikingJelly-compatible names, parameter names and state_dict keys).

Multi-step only: inputs are time-first sequences. Layers that contain spiking neurons build them with
``spiking_neuron(**kwargs, step_mode='m')`` — by default :class:`sj.neuron.LIFNode` with ``tau=2``,
``detach_reset=True`` (and ``v_threshold=0.5`` for the attention neuron), SpikingJelly's defaults; a custom
``spiking_neuron`` gets only the given ``kwargs``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj import neuron
from sj.base import StepModeError
from sj.layer.container import SeqToANNContainer
from sj.layer.misc import MultiStepOnly
from sj.layer.stateless import BatchNorm2d, Conv2d

# SpikingJelly's defaults of the attention layers' LIF neurons (the attention neuron fires at 0.5)
_LIF = {"tau": 2.0, "detach_reset": True}
_ATTENTION_LIF = {"tau": 2.0, "v_threshold": 0.5, "detach_reset": True}


def multi_step_neuron(spiking_neuron: Callable[..., nn.Module] | None, kwargs: dict[str, Any],
                      defaults: dict[str, Any] | None = None, owner: str = "an attention layer") -> nn.Module:
    """A neuron of a multi-step layer: ``spiking_neuron(**kwargs, step_mode='m')``, or, when ``spiking_neuron`` is
    ``None``, :class:`sj.neuron.LIFNode` with ``defaults`` overridden by ``kwargs``. The neuron maps ``[T, N, *]`` to
    ``[T, N, *]``.

    Args:
        spiking_neuron: a neuron class, or ``None`` for LIF.
        kwargs: the neuron's arguments (deep-copied: a module in them, e.g. a surrogate, is the neuron's own).
        defaults: LIF's arguments when ``spiking_neuron`` is ``None`` (deep-copied too); ignored otherwise.
        owner: what the neurons belong to, for the error message.

    Raises:
        StepModeError: ``kwargs`` has a ``step_mode`` other than ``'m'``.
    """
    if kwargs.get("step_mode", "m") != "m":
        raise StepModeError(f"the spiking neurons of {owner} run multi-step (step_mode='m'); got step_mode="
                            f"{kwargs['step_mode']!r}")
    params = copy.deepcopy(dict(defaults)) if spiking_neuron is None and defaults else {}
    params.update(copy.deepcopy(kwargs))
    params["step_mode"] = "m"
    return (neuron.LIFNode if spiking_neuron is None else spiking_neuron)(**params)


def _check_rank(owner: nn.Module, x: torch.Tensor, rank: int, layout: str) -> None:
    if x.dim() != rank:
        raise StepModeError(f"{type(owner).__name__} needs a {rank}-D sequence {layout}, got shape {tuple(x.shape)}")


def _heads(dim: int, num_heads: int) -> int:
    if num_heads < 1 or dim % num_heads:
        raise ValueError(f"dim {dim} must be divisible by num_heads {num_heads}")
    return dim // num_heads


class _PooledMLP(nn.Module):
    """``σ(MLP(avg_pool(x)) + MLP(max_pool(x)))`` with a bottleneck MLP shared by both pools."""

    def __init__(self, avg_pool: nn.Module, max_pool: nn.Module, mlp: nn.Sequential) -> None:
        super().__init__()
        self.avg_pool, self.max_pool, self.sharedMLP = avg_pool, max_pool, mlp

    def score(self, x: torch.Tensor, reshape: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        return torch.sigmoid(self.sharedMLP(reshape(self.avg_pool(x))) + self.sharedMLP(reshape(self.max_pool(x))))


def _check_reduction(name: str, size: int, reduction: int) -> None:
    if not 1 <= reduction <= size:
        raise ValueError(f"{name}: the reduction must be in [1, {size}], got {reduction}")


class TemporalWiseAttention(MultiStepOnly, _PooledMLP):
    """Temporal-wise attention (Yao et al., 2021): each step of a sample is scaled by a score in (0, 1) computed from
    the step's average and maximum: ``y[t] = x[t] · σ(MLP(avg_t) + MLP(max_t))``.

    Args:
        T: number of steps.
        reduction: bottleneck of the MLP ``T → T // reduction → T`` (bias-free). Default 16; must be ≤ T.
        dimension: 4 for ``[T, N, C, H, W]`` input, 2 for ``[T, N, M]``.
    """

    def __init__(self, T: int, reduction: int = 16, dimension: int = 4) -> None:
        if dimension not in (2, 4):
            raise ValueError(f"TemporalWiseAttention: dimension must be 2 or 4, got {dimension}")
        _check_reduction("TemporalWiseAttention", T, reduction)
        pools = ((nn.AdaptiveAvgPool1d(1), nn.AdaptiveMaxPool1d(1)) if dimension == 2
                 else (nn.AdaptiveAvgPool3d(1), nn.AdaptiveMaxPool3d(1)))
        super().__init__(*pools, nn.Sequential(nn.Linear(T, T // reduction, bias=False), nn.ReLU(),
                                               nn.Linear(T // reduction, T, bias=False)))
        self.T, self.dimension, self.step_mode = T, dimension, "m"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_rank(self, x_seq, self.dimension + 1, "[T, N, M]" if self.dimension == 2 else "[T, N, C, H, W]")
        x = x_seq.transpose(0, 1)  # [N, T, *]
        scores = self.score(x, lambda pooled: pooled.flatten(1))  # [N, T]
        return (x * scores.view(*scores.shape, *([1] * (x.dim() - 2)))).transpose(0, 1)


class _AxisAttention(_PooledMLP):
    """Scores of one axis (time, or channels with ``channel_axis``) of ``[N, T, C, H, W]``, by 1×1×1 convolutions."""

    def __init__(self, size: int, reduction: int, channel_axis: bool = False) -> None:
        super().__init__(nn.AdaptiveAvgPool3d(1), nn.AdaptiveMaxPool3d(1),
                         nn.Sequential(nn.Conv3d(size, size // reduction, 1, bias=False), nn.ReLU(),
                                       nn.Conv3d(size // reduction, size, 1, bias=False)))
        self.channel_axis = channel_axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_axis:
            return self.score(x.transpose(1, 2), lambda p: p).transpose(1, 2)
        return self.score(x, lambda p: p)


class _SpatialAttention(nn.Module):
    """Scores of each position of ``[N, T, C, H, W]`` from the mean and maximum over T·C (CBAM's spatial branch)."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1, 2)
        pooled = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), dim=1)
        return torch.sigmoid(self.conv(pooled)).unsqueeze(1)


class MultiDimensionalAttention(MultiStepOnly, nn.Module):
    """Multi-dimensional attention (Yao et al., 2023): temporal, channel and spatial attention applied in turn to
    ``[T, N, C, H, W]``, each multiplying the running value by its scores, then ReLU.

    Args:
        T, C: steps and channels of the input.
        reduction_t, reduction_c: bottlenecks of the temporal and channel MLPs (≤ T, ≤ C). Default 16.
        kernel_size: 3 or 7, of the spatial convolution.
        use_temporal, use_channel, use_spatial: which branches to apply (at least one).
    """

    def __init__(self, T: int, C: int, reduction_t: int = 16, reduction_c: int = 16, kernel_size: int = 3,
                 use_temporal: bool = True, use_channel: bool = True, use_spatial: bool = True) -> None:
        super().__init__()
        if not (use_temporal or use_channel or use_spatial):
            raise ValueError("MultiDimensionalAttention: at least one of use_temporal, use_channel, use_spatial "
                             "must be True")
        if kernel_size not in (3, 7):
            raise ValueError(f"MultiDimensionalAttention: kernel_size must be 3 or 7, got {kernel_size}")
        if use_temporal:
            _check_reduction("MultiDimensionalAttention (temporal)", T, reduction_t)
        if use_channel:
            _check_reduction("MultiDimensionalAttention (channel)", C, reduction_c)
        self.ta = _AxisAttention(T, reduction_t) if use_temporal else None
        self.ca = _AxisAttention(C, reduction_c, channel_axis=True) if use_channel else None
        self.sa = _SpatialAttention(kernel_size) if use_spatial else None
        self.relu = nn.ReLU()
        self.step_mode = "m"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_rank(self, x_seq, 5, "[T, N, C, H, W]")
        out = x_seq.transpose(0, 1)
        for branch in (self.ta, self.ca, self.sa):
            if branch is not None:
                out = branch(out) * out
        return self.relu(out).transpose(0, 1)


def conv1d_bn(cin: int, cout: int) -> SeqToANNContainer:
    """1×1 ``nn.Conv1d`` (no bias) then ``nn.BatchNorm1d`` on the time-folded batch: tokens ``[T, N, cin, L]`` →
    ``[T, N, cout, L]`` (the convolution is built first: parameter initialisation draws in that order)."""
    return SeqToANNContainer(nn.Conv1d(cin, cout, kernel_size=1, bias=False), nn.BatchNorm1d(cout))


class SpikingSelfAttention(nn.Module):
    """Spiking self-attention (SSA, Spikformer; Zhou et al., 2023) on tokens ``[T, N, C, L]``.

    Q, K, V are spikes of a 1×1 convolution + BN (``qkv_conv_bn``, one for all three) and a neuron (``qkv_lif``);
    per head (``C/num_heads`` channels) the attention ``V·Kᵀ·Q · 0.125`` needs no softmax (spikes are non-negative),
    its neuron (``attn_lif``, threshold 0.5) spikes, and a 1×1 convolution + BN + neuron projects back.

    Args:
        dim: C. num_heads: heads (dividing C). Default 8.
        spiking_neuron: neuron class (default LIF; see the module docstring); ``**kwargs`` go to it.
    """

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: Callable[..., nn.Module] | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        self.dim, self.num_heads, self.head_dim = dim, num_heads, _heads(dim, num_heads)
        self.scale = 0.125
        self.qkv_conv_bn = conv1d_bn(dim, 3 * dim)
        self.qkv_lif = multi_step_neuron(spiking_neuron, kwargs, _LIF)
        self.attn_lif = multi_step_neuron(spiking_neuron, kwargs, _ATTENTION_LIF)
        self.proj_conv_bn = conv1d_bn(dim, dim)
        self.proj_lif = multi_step_neuron(spiking_neuron, kwargs, _LIF)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_rank(self, x_seq, 4, "[T, N, C, L]")
        T, N, C, L = x_seq.shape
        qkv = self.qkv_lif(self.qkv_conv_bn(x_seq)).reshape(T, N, 3 * self.num_heads, self.head_dim, L)
        q, k, v = qkv.chunk(3, dim=2)  # [T, N, heads, C/heads, L] each
        attn = (v @ k.transpose(-2, -1)) @ q * self.scale
        x = self.attn_lif(attn).reshape(T, N, C, L)
        return self.proj_lif(self.proj_conv_bn(x))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"


class QKAttention(nn.Module):
    """Q-K attention (QKFormer; Zhou et al., 2024) on tokens ``[T, N, C, L]``: spiking Q and K (``qk_conv_bn``,
    ``qk_lif``); Q summed per head over channels (``'token'``: a score per token) or over tokens (``'channel'``: a
    score per channel) spikes through ``attn_lif`` (threshold 0.5) and masks K; a 1×1 convolution + BN + neuron
    projects.

    Args:
        dim, num_heads, spiking_neuron, kwargs: as :class:`SpikingSelfAttention`.
        qka_type: ``'token'`` or ``'channel'``.
    """

    def __init__(self, dim: int, num_heads: int = 8, qka_type: str = "token",
                 spiking_neuron: Callable[..., nn.Module] | None = None, **kwargs: Any) -> None:
        super().__init__()
        if qka_type not in ("token", "channel"):
            raise ValueError(f"qka_type must be 'token' or 'channel', got {qka_type!r}")
        self.dim, self.num_heads, self.head_dim = dim, num_heads, _heads(dim, num_heads)
        self._qka_type = qka_type
        self.sum_dim = 3 if qka_type == "token" else 4
        self.qk_conv_bn = conv1d_bn(dim, 2 * dim)
        self.qk_lif = multi_step_neuron(spiking_neuron, kwargs, _LIF)
        self.attn_lif = multi_step_neuron(spiking_neuron, kwargs, _ATTENTION_LIF)
        self.proj_conv_bn = conv1d_bn(dim, dim)
        self.proj_lif = multi_step_neuron(spiking_neuron, kwargs, _LIF)

    @property
    def qka_type(self) -> str:
        """``'token'`` or ``'channel'``."""
        return self._qka_type

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_rank(self, x_seq, 4, "[T, N, C, L]")
        T, N, _, L = x_seq.shape
        qk = self.qk_lif(self.qk_conv_bn(x_seq)).reshape(T, N, 2 * self.num_heads, self.head_dim, L)
        q, k = qk.chunk(2, dim=2)  # [T, N, heads, C/heads, L] each
        x = self.attn_lif(q.sum(self.sum_dim, keepdim=True)) * k
        return self.proj_lif(self.proj_conv_bn(x.flatten(2, 3)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, qka_type={self.qka_type}"


class TokenQKAttention(QKAttention):
    """:class:`QKAttention` with ``qka_type='token'``."""

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: Callable[..., nn.Module] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(dim, num_heads, "token", spiking_neuron, **kwargs)


class ChannelQKAttention(QKAttention):
    """:class:`QKAttention` with ``qka_type='channel'``."""

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: Callable[..., nn.Module] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(dim, num_heads, "channel", spiking_neuron, **kwargs)


class SpikeDrivenSelfAttention(nn.Module):
    """Spike-driven self-attention (Spike-driven Transformer; Yao et al., 2023) on ``[T, N, C, H, W]``.

    The input spikes through ``shortcut_lif``; Q, K, V are spikes of 1×1 convolution + BN + neuron; per head the
    column sums of ``K ⊙ V`` over tokens spike through ``attn_lif`` (threshold 0.5) and mask Q; a 1×1 convolution +
    BN projects, and the input is added back (residual).

    Args: as :class:`SpikingSelfAttention` (``dim`` = C).
    """

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: Callable[..., nn.Module] | None = None,
                 **kwargs: Any) -> None:
        super().__init__()
        self.dim, self.num_heads, self.head_dim = dim, num_heads, _heads(dim, num_heads)

        def lif(**extra: float) -> nn.Module:
            return multi_step_neuron(spiking_neuron, kwargs, {**_LIF, **extra})

        self.shortcut_lif = lif()
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", Conv2d(dim, dim, 1, bias=False, step_mode="m"))
            setattr(self, f"{name}_bn", BatchNorm2d(dim, step_mode="m"))
            setattr(self, f"{name}_lif", lif())
        self.attn_lif = lif(v_threshold=0.5)
        self.proj_conv = Conv2d(dim, dim, 1, step_mode="m")
        self.proj_bn = BatchNorm2d(dim, step_mode="m")

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_rank(self, x_seq, 5, "[T, N, C, H, W]")
        T, N, C, H, W = x_seq.shape
        x = self.shortcut_lif(x_seq)

        def heads(name: str) -> torch.Tensor:  # [T, N, heads, H·W, C/heads]
            s = getattr(self, f"{name}_lif")(getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(x)))
            return s.flatten(3).transpose(-1, -2).reshape(T, N, H * W, self.num_heads, self.head_dim).transpose(2, 3)

        q, k, v = heads("q"), heads("k"), heads("v")
        y = q * self.attn_lif((k * v).sum(-2, keepdim=True))
        return self.proj_bn(self.proj_conv(y.transpose(3, 4).reshape(T, N, C, H, W))) + x_seq

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"
