"""The attention layers the zoo is built from (SpikingJelly 2.0's ``layer.attention``: ``SpikingSelfAttention``,
``QKAttention``, ``SpikeDrivenSelfAttention``, ``TemporalWiseAttention``, ``MultiDimensionalAttention``), with its
module names.

They live here until sj.layer offers them; every neuron is ``spiking_neuron(**kwargs)`` in step mode ``'m'``, or
LIF with the paper's defaults (τ = 2, ``detach_reset=True``; the attention neuron's threshold 0.5) when
``spiking_neuron`` is ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj import layer
from sj.model._builders import make_multi_step_neuron

NeuronClass = Callable[..., nn.Module] | None
LIF_DEFAULTS = {"tau": 2.0, "detach_reset": True}
ATTENTION_DEFAULTS = {"tau": 2.0, "v_threshold": 0.5, "detach_reset": True}


def conv1d_bn(cin: int, cout: int) -> layer.SeqToANNContainer:
    """1×1 ``Conv1d`` (no bias) and ``BatchNorm1d`` on the time-folded batch."""
    return layer.SeqToANNContainer(nn.Conv1d(cin, cout, kernel_size=1, stride=1, bias=False), nn.BatchNorm1d(cout))


def _check_heads(dim: int, num_heads: int) -> None:
    if dim % num_heads:
        raise ValueError(f"dim {dim} should be divided by num_heads {num_heads}.")


class SpikingSelfAttention(nn.Module):
    """Spikformer's SSA on tokens ``[T, N, C, L]``: Q, K, V spikes from one 1×1 conv-BN-LIF, ``(V·Kᵀ)·Q · 0.125``
    per head (no softmax), an attention LIF (threshold 0.5) and a conv-BN-LIF projection; output ``[T, N, C, L]``."""

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: NeuronClass = None, **kwargs: Any) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        self.dim, self.num_heads, self.head_dim, self.scale = dim, num_heads, dim // num_heads, 0.125
        self.qkv_conv_bn = conv1d_bn(dim, 3 * dim)
        self.qkv_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, ATTENTION_DEFAULTS)
        self.proj_conv_bn = conv1d_bn(dim, dim)
        self.proj_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim != 4:
            raise ValueError(f"expected 4D input with shape [T, N, C, L], but got input with shape {x_seq.shape}")
        T, N, C, L = x_seq.shape
        qkv = self.qkv_lif(self.qkv_conv_bn(x_seq)).reshape(T, N, 3 * self.num_heads, C // self.num_heads, L)
        q, k, v = qkv.chunk(3, dim=2)
        x = (v @ k.transpose(-2, -1)) @ q * self.scale
        return self.proj_lif(self.proj_conv_bn(self.attn_lif(x).reshape(T, N, C, L)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"


class QKAttention(nn.Module):
    """QKFormer's Q-K attention on tokens ``[T, N, C, L]``: Q summed over tokens (``qka_type='token'``) or channels
    (``'channel'``) through the attention LIF gates K; conv-BN-LIF projection."""

    def __init__(self, dim: int, num_heads: int = 8, qka_type: str = "token", spiking_neuron: NeuronClass = None,
                 **kwargs: Any) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        if qka_type not in ("token", "channel"):
            raise ValueError(f"qka_type should be either 'token' or 'channel', but got {qka_type}.")
        self.dim, self.num_heads, self.head_dim, self.qka_type = dim, num_heads, dim // num_heads, qka_type
        self.qk_conv_bn = conv1d_bn(dim, 2 * dim)
        self.qk_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)
        self.sum_dim = 3 if qka_type == "token" else 4
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, ATTENTION_DEFAULTS)
        self.proj_conv_bn = conv1d_bn(dim, dim)
        self.proj_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim != 4:
            raise ValueError(f"expected 4D input with shape [T, N, C, L], but got input with shape {x_seq.shape}")
        T, N, C, L = x_seq.shape
        qk = self.qk_lif(self.qk_conv_bn(x_seq)).reshape(T, N, 2 * self.num_heads, C // self.num_heads, L)
        q, k = qk.chunk(2, dim=2)
        x = self.attn_lif(q.sum(dim=self.sum_dim, keepdim=True)) * k
        return self.proj_lif(self.proj_conv_bn(x.flatten(2, 3)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, qka_type={self.qka_type}"


class SpikeDrivenSelfAttention(nn.Module):
    """Spike-driven self-attention on ``[T, N, C, H, W]``: a shortcut LIF, Q, K, V as 1×1 conv-BN-LIF spikes, the
    column sums of K⊙V through the attention LIF gating Q, a 1×1 conv-BN projection, plus the input."""

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: NeuronClass = None, **kwargs: Any) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.shortcut_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", layer.Conv2d(dim, dim, 1, bias=False, step_mode="m"))
            setattr(self, f"{name}_bn", layer.BatchNorm2d(dim, step_mode="m"))
            setattr(self, f"{name}_lif", make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS))
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, ATTENTION_DEFAULTS)
        self.proj_conv = layer.Conv2d(dim, dim, 1, step_mode="m")
        self.proj_bn = layer.BatchNorm2d(dim, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected 5D input [T, N, C, H, W], but got {x.shape}")
        T, N, C, H, W = x.shape
        s = self.shortcut_lif(x)

        def heads(name: str) -> torch.Tensor:  # [T, N, heads, H·W, head_dim]
            y = getattr(self, f"{name}_lif")(getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(s)))
            return y.flatten(3).transpose(-1, -2).reshape(T, N, H * W, self.num_heads, self.head_dim).transpose(2, 3)

        q, k, v = heads("q"), heads("k"), heads("v")
        y = (q * self.attn_lif((k * v).sum(dim=-2, keepdim=True))).transpose(3, 4).reshape(T, N, C, H, W)
        return self.proj_bn(self.proj_conv(y)) + x

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"


class _AxisAttention(nn.Module):
    """Squeeze-excitation along dimension 1 of ``[N, A, ...]`` (``channel_axis``: along dimension 2, swapped in)."""

    def __init__(self, in_planes: int, ratio: int, channel_axis: bool = False) -> None:
        super().__init__()
        self.channel_axis = channel_axis
        self.avg_pool, self.max_pool = nn.AdaptiveAvgPool3d(1), nn.AdaptiveMaxPool3d(1)
        self.sharedMLP = nn.Sequential(nn.Conv3d(in_planes, in_planes // ratio, 1, bias=False), nn.ReLU(),
                                       nn.Conv3d(in_planes // ratio, in_planes, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_axis:
            x = x.transpose(1, 2)
        score = torch.sigmoid(self.sharedMLP(self.avg_pool(x)) + self.sharedMLP(self.max_pool(x)))
        return score.transpose(1, 2) if self.channel_axis else score


class _SpatialAttention(nn.Module):
    """A sigmoid map from the channel mean and max of ``[N, T, C, H, W]``, over all steps and channels."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1, 2)
        stats = torch.cat((x.mean(dim=1, keepdim=True), x.max(dim=1, keepdim=True).values), dim=1)
        return torch.sigmoid(self.conv(stats)).unsqueeze(1)


class TemporalWiseAttention(nn.Module):
    """Temporal-wise attention (Yao et al. 2021): one weight per step from the average and max over each step's
    features through a shared ``T → T/reduction → T`` MLP; ``[T, N, M]`` (``dimension=2``) or ``[T, N, C, H, W]``
    (``dimension=4``). Multi-step only."""

    def __init__(self, T: int, reduction: int = 16, dimension: int = 4) -> None:
        super().__init__()
        if dimension not in (2, 4):
            raise ValueError(f"dimension must be 4 or 2, got {dimension}")
        if T < reduction:
            raise ValueError(f"reduction ({reduction}) cannot be greater than T ({T})")
        self.step_mode = "m"
        pools = (nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d) if dimension == 2 else (nn.AdaptiveAvgPool3d,
                                                                                     nn.AdaptiveMaxPool3d)
        self.avg_pool, self.max_pool = pools[0](1), pools[1](1)
        self.sharedMLP = nn.Sequential(nn.Linear(T, T // reduction, bias=False), nn.ReLU(),
                                       nn.Linear(T // reduction, T, bias=False))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() not in (3, 5):
            raise ValueError(f"expected 3D or 5D input with shape [T, N, M] or [T, N, C, H, W], but got input with "
                             f"shape {x_seq.shape}")
        x = x_seq.transpose(0, 1)
        n, t = x.shape[:2]
        scores = torch.sigmoid(self.sharedMLP(self.avg_pool(x).view(n, t)) +
                               self.sharedMLP(self.max_pool(x).view(n, t)))
        return (x * scores.view(n, t, *(1,) * (x.dim() - 2))).transpose(0, 1)


class MultiDimensionalAttention(nn.Module):
    """Multi-dimensional attention (Yao et al. 2023): temporal, channel and spatial attention applied in turn to
    ``[T, N, C, H, W]``, then a ReLU. Multi-step only."""

    def __init__(self, T: int, C: int, reduction_t: int = 16, reduction_c: int = 16, kernel_size: int = 3,
                 use_temporal: bool = True, use_channel: bool = True, use_spatial: bool = True) -> None:
        super().__init__()
        if not (use_temporal or use_channel or use_spatial):
            raise ValueError("at least one of use_temporal, use_channel, and use_spatial must be True")
        if use_temporal and T < reduction_t:
            raise ValueError(f"reduction_t ({reduction_t}) cannot be greater than T ({T})")
        if use_channel and C < reduction_c:
            raise ValueError(f"reduction_c ({reduction_c}) cannot be greater than C ({C})")
        if kernel_size not in (3, 7):
            raise ValueError(f"kernel size must be 3 or 7, got {kernel_size}")
        self.step_mode = "m"
        self.ta = _AxisAttention(T, reduction_t) if use_temporal else None
        self.ca = _AxisAttention(C, reduction_c, channel_axis=True) if use_channel else None
        self.sa = _SpatialAttention(kernel_size) if use_spatial else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"expected 5D input with shape [T, N, C, H, W], but got input with shape {x.shape}")
        out = x.transpose(0, 1)
        for attention in (self.ta, self.ca, self.sa):
            if attention is not None:
                out = attention(out) * out
        return self.relu(out).transpose(0, 1)
