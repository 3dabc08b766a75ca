"""Max-Former (SpikingJelly 2.0's ``model.maxformer``: max-pooling patch embeddings, depth-wise convolution blocks in
the early stages, spiking self-attention in the last), with SpikingJelly's module names.

``[N, C, H, W]`` (repeated over ``T`` steps) or ``[T, N, C, H, W]`` → ``[N, num_classes]`` (the head reads the time
mean of a LIF on the token mean). Three stages of ``embed_dims/4``, ``/2``, ``embed_dims`` channels: a patch
embedding (strided convolutions with a shortcut in the first, convolution and 3×3/2 max pooling with a pooled
shortcut in the others), then blocks — depth-wise convolution (7×7, 5×5) + spatial MLP in the first two stages,
spiking self-attention + spatial MLP in the last. ``cifar=True``: a non-downsampling first embedding, a spatial MLP
only in stage 1, 3×3 depth-wise convolutions, 8 attention heads with an input LIF, bias-free embeddings, LIF
τ = 2 with ``detach_reset=True`` by default. Neurons: ``spiking_neuron(**kwargs)`` or LIF; step mode ``'m'``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sj import layer
from sj.functional import set_step_mode
from sj.layer import SpikingSelfAttention
from sj.layer.attention import conv1d_bn
from sj.model._builders import (
    ATTENTION_DEFAULTS,
    NeuronArg,
    SpatialMLP,
    batch_norm2d,
    make_multi_step_neuron,
    max_pool_3x3,
    to_sequence,
)

__all__ = ["MaxFormer", "maxformer_10_384", "maxformer_cifar"]


def _conv(cin: int, cout: int, k: int, stride: int = 1, bias: bool = True, groups: int = 1) -> layer.Conv2d:
    return layer.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias, groups=groups, step_mode="m")


class _MaxCifarEmbed(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        hidden = out_channels // 2
        self.conv, self.bn = _conv(in_channels, hidden, 3, bias=False), batch_norm2d(hidden)
        self.branch = nn.Sequential(make_multi_step_neuron(spiking_neuron, neuron_kwargs),
                                    _conv(hidden, out_channels, 3, bias=False), batch_norm2d(out_channels))
        self.shortcut = nn.Sequential(make_multi_step_neuron(spiking_neuron, neuron_kwargs),
                                      _conv(hidden, out_channels, 1, bias=False), batch_norm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.branch(x) + self.shortcut(x)


class _MaxCifarSSA(nn.Module):
    """Spiking self-attention with an input LIF, ``Q·(Kᵀ·V)·0.125`` per head and a conv-BN projection (no LIF)."""

    def __init__(self, dim: int, num_heads: int, spiking_neuron: NeuronArg, neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.input_lif = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.qkv = conv1d_bn(dim, 3 * dim)
        self.qkv_lif = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.attn_lif = make_multi_step_neuron(spiking_neuron, neuron_kwargs, ATTENTION_DEFAULTS)
        self.proj = layer.SeqToANNContainer(nn.Conv1d(dim, dim, 1), nn.BatchNorm1d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, N, C, L = x.shape
        q, k, v = (z.transpose(-1, -2).reshape(T, N, L, self.num_heads, C // self.num_heads).transpose(2, 3)
                   for z in self.qkv_lif(self.qkv(self.input_lif(x))).chunk(3, dim=2))
        y = (q @ (k.transpose(-2, -1) @ v) * 0.125).transpose(3, 4).reshape(T, N, C, L)
        return self.proj(self.attn_lif(y))


class _MaxEmbedInit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        hidden = out_channels // 2
        self.conv1, self.bn1 = _conv(in_channels, hidden, 3, 2), batch_norm2d(hidden)
        self.lif1 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.conv2, self.bn2 = _conv(hidden, out_channels, 3, 2), batch_norm2d(out_channels)
        self.lif2 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.conv3, self.bn3 = _conv(out_channels, out_channels, 3), batch_norm2d(out_channels)
        self.shortcut = nn.Sequential(_conv(hidden, out_channels, 1, 2), batch_norm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lif1(self.bn1(self.conv1(x)))
        y = self.lif2(self.bn2(self.conv2(x)))
        return self.bn3(self.conv3(y)) + self.shortcut(x)


class _MaxEmbedStage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any], bias: bool = True) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv(in_channels, out_channels, 3, bias=bias), batch_norm2d(out_channels)
        self.lif1 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.pool = max_pool_3x3()
        self.conv2, self.bn2 = _conv(out_channels, out_channels, 3, bias=bias), batch_norm2d(out_channels)
        self.lif2 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.shortcut = nn.Sequential(_conv(in_channels, out_channels, 1, bias=bias), batch_norm2d(out_channels),
                                      max_pool_3x3())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lif1(x)
        y = self.lif2(self.pool(self.bn1(self.conv1(x))))
        return self.bn2(self.conv2(y)) + self.shortcut(x)


class _DWCBlock(nn.Module):
    def __init__(self, dim: int, kernel_size: int, mlp_ratio: float, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.lif = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.dwconv, self.bn = _conv(dim, dim, kernel_size, groups=dim), batch_norm2d(dim)
        self.mlp = SpatialMLP(dim, int(dim * mlp_ratio), spiking_neuron, neuron_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x + self.bn(self.dwconv(self.lif(x))))


class _SSABlock(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any], cifar: bool = False) -> None:
        super().__init__()
        self.attn = (_MaxCifarSSA(dim, num_heads, spiking_neuron, neuron_kwargs) if cifar
                     else SpikingSelfAttention(dim, num_heads, spiking_neuron, **neuron_kwargs))
        self.mlp = SpatialMLP(dim, int(dim * mlp_ratio), spiking_neuron, neuron_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(3)
        return self.mlp((tokens + self.attn(tokens)).reshape(x.shape))


class MaxFormer(nn.Module):
    """Max-Former (see the module docstring).

    Args:
        T: steps a static image is repeated for. Default 4.
        in_channels, num_classes: Defaults 3, 1000.
        embed_dims: channels of the last stage (divisible by 4, by 8 with ``cifar``). Default 384.
        depths: blocks of the three stages. Default (1, 2, 7).
        mlp_ratio: MLP expansion. Default 4.0.
        spiking_neuron, kwargs: the neurons; ``cifar``: the CIFAR variant (see the module docstring).
    """

    def __init__(self, T: int = 4, in_channels: int = 3, num_classes: int = 1000, embed_dims: int = 384,
                 depths: tuple[int, int, int] = (1, 2, 7), mlp_ratio: float = 4.0, spiking_neuron: NeuronArg = None,
                 cifar: bool = False, **kwargs: Any) -> None:
        super().__init__()
        if len(depths) != 3 or embed_dims % (8 if cifar else 4):
            raise ValueError("depths must contain three values; embed_dims must be divisible by 8 for CIFAR or 4 "
                             f"otherwise, got depths={depths}, embed_dims={embed_dims}")
        dims = (embed_dims // 4, embed_dims // 2, embed_dims)
        self.T = T
        if cifar and spiking_neuron is None:
            kwargs = {"tau": 2.0, "detach_reset": True, **kwargs}
        self.patch_embed1 = (_MaxCifarEmbed if cifar else _MaxEmbedInit)(in_channels, dims[0], spiking_neuron, kwargs)
        self.patch_embed2 = _MaxEmbedStage(dims[0], dims[1], spiking_neuron, kwargs, bias=not cifar)
        self.patch_embed3 = _MaxEmbedStage(dims[1], dims[2], spiking_neuron, kwargs, bias=not cifar)
        self.stage1 = nn.ModuleList(
            SpatialMLP(dims[0], int(dims[0] * mlp_ratio), spiking_neuron, kwargs) if cifar
            else _DWCBlock(dims[0], 7, mlp_ratio, spiking_neuron, kwargs) for _ in range(depths[0]))
        self.stage2 = nn.ModuleList(_DWCBlock(dims[1], 3 if cifar else 5, mlp_ratio, spiking_neuron, kwargs)
                                    for _ in range(depths[1]))
        heads = 8 if cifar else max(1, dims[2] // 64)
        self.stage3 = nn.ModuleList(_SSABlock(dims[2], heads, mlp_ratio, spiking_neuron, kwargs, cifar)
                                    for _ in range(depths[2]))
        self.head_lif = make_multi_step_neuron(spiking_neuron, kwargs)
        self.head = nn.Linear(embed_dims, num_classes)
        set_step_mode(self, "m")
        if cifar:
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_sequence(x, self.T)
        for i in (1, 2, 3):
            x = getattr(self, f"patch_embed{i}")(x)
            for block in getattr(self, f"stage{i}"):
                x = block(x)
        return self.head(self.head_lif(x.flatten(3).mean(-1)).mean(0))


def maxformer_10_384(T: int = 4, in_channels: int = 3, num_classes: int = 1000, spiking_neuron: NeuronArg = None,
                     **kwargs: Any) -> MaxFormer:
    """Max-Former-10-384 (ImageNet): 384 dims, (1, 2, 7) blocks."""
    return MaxFormer(T, in_channels, num_classes, 384, (1, 2, 7), spiking_neuron=spiking_neuron, **kwargs)


def maxformer_cifar(T: int = 4, in_channels: int = 3, num_classes: int = 100, spiking_neuron: NeuronArg = None,
                    **kwargs: Any) -> MaxFormer:
    """The CIFAR Max-Former: 384 dims, (1, 1, 2) blocks, ``cifar=True``."""
    return MaxFormer(T, in_channels, num_classes, 384, (1, 1, 2), spiking_neuron=spiking_neuron, cifar=True, **kwargs)
