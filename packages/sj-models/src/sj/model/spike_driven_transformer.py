"""Spike-driven Transformer (Yao et al. 2023; SpikingJelly 2.0's ``model.spike_driven_transformer``), with
SpikingJelly's module names.

``[N, C, H, W]`` (repeated over ``T`` steps) or ``[T, N, C, H, W]`` → ``[N, num_classes]`` (the head reads the mean
over time). A patch stem of four conv-BN stages (``embed_dims/8 … embed_dims`` channels; ``pooling_stat`` says which
end in a 3×3/2 max pooling; LIF between them) with a conv-BN relative position embedding, ``depths`` blocks of
spike-driven self-attention and a 1×1 conv-BN MLP (membrane shortcuts: neurons before the convolutions, residuals
added to the potentials), a LIF on the token mean and a linear head. Neurons: ``spiking_neuron(**kwargs)``, or LIF
(the attention's with τ = 2 and ``detach_reset=True``) when ``spiking_neuron`` is ``None``; always step mode ``'m'``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sj import layer
from sj.functional import set_step_mode
from sj.layer import SpikeDrivenSelfAttention
from sj.model._builders import NeuronArg, SpatialMLP, make_multi_step_neuron, max_pool_3x3, to_sequence

__all__ = ["SpikeDrivenTransformer", "sdt_8_384"]


def _conv_bn(cin: int, cout: int, k: int, bias: bool = True) -> list[nn.Module]:
    return [layer.Conv2d(cin, cout, k, padding=k // 2, bias=bias, step_mode="m"),
            layer.BatchNorm2d(cout, step_mode="m")]


class _PatchEmbed(nn.Module):
    def __init__(self, in_channels: int, embed_dims: int, pooling_stat: str, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        channels = (embed_dims // 8, embed_dims // 4, embed_dims // 2)
        self.stages = nn.ModuleList()
        previous = in_channels
        for pool, cout in zip(pooling_stat[:3], channels):
            stage = [*_conv_bn(previous, cout, 3), make_multi_step_neuron(spiking_neuron, neuron_kwargs)]
            self.stages.append(nn.Sequential(*stage, *([max_pool_3x3()] if pool == "1" else [])))
            previous = cout
        self.final_stage = nn.Sequential(*_conv_bn(previous, embed_dims, 3),
                                         *([max_pool_3x3()] if pooling_stat[3] == "1" else []))
        self.final_lif = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.rpe_conv, self.rpe_bn = _conv_bn(embed_dims, embed_dims, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        x = self.final_stage(x)
        return self.rpe_bn(self.rpe_conv(self.final_lif(x))) + x


class _Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.attn = SpikeDrivenSelfAttention(dim, num_heads, spiking_neuron, **neuron_kwargs)
        self.mlp = SpatialMLP(dim, int(dim * mlp_ratio), spiking_neuron, neuron_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attn(x))


class SpikeDrivenTransformer(nn.Module):
    """The spike-driven Transformer (see the module docstring).

    Args:
        T: steps a static image is repeated for. Default 4.
        in_channels, num_classes: Defaults 3, 1000.
        embed_dims, num_heads, depths, mlp_ratio: Defaults 384, 8, 8, 4.0.
        pooling_stat: four '0'/'1' characters: which stem stages end in a max pooling. Default ``'1111'``.
        spiking_neuron, kwargs: the neurons (see the module docstring).
    """

    def __init__(self, T: int = 4, in_channels: int = 3, num_classes: int = 1000, embed_dims: int = 384,
                 num_heads: int = 8, depths: int = 8, mlp_ratio: float = 4.0, pooling_stat: str = "1111",
                 spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        super().__init__()
        if len(pooling_stat) != 4 or any(c not in "01" for c in pooling_stat):
            raise ValueError(f"pooling_stat must be a four-character 0/1 mask, got {pooling_stat!r}")
        self.T = T
        self.patch_embed = _PatchEmbed(in_channels, embed_dims, pooling_stat, spiking_neuron, kwargs)
        self.blocks = nn.ModuleList(_Block(embed_dims, num_heads, mlp_ratio, spiking_neuron, kwargs)
                                    for _ in range(depths))
        self.head_lif = make_multi_step_neuron(spiking_neuron, kwargs)
        self.head = nn.Linear(embed_dims, num_classes)
        set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(to_sequence(x, self.T))
        for block in self.blocks:
            x = block(x)
        return self.head(self.head_lif(x.flatten(3).mean(-1)).mean(0))


def sdt_8_384(T: int = 4, in_channels: int = 3, num_classes: int = 1000, spiking_neuron: NeuronArg = None,
              **kwargs: Any) -> SpikeDrivenTransformer:
    """Spike-driven Transformer-8-384: 384 dims, 8 heads, 8 blocks."""
    return SpikeDrivenTransformer(T, in_channels, num_classes, 384, 8, 8, spiking_neuron=spiking_neuron, **kwargs)
