"""QKFormer (Zhou et al. 2024, "QKFormer: Hierarchical Spiking Transformer using Q-K Attention"; SpikingJelly 2.0's
``model.qkformer``), with SpikingJelly's module names.

``[N, C, H, W]`` (repeated over ``T`` steps) or ``[T, N, C, H, W]`` → ``[N, num_classes]`` (the head reads the mean
over time and tokens). Three stages of ``embed_dims/4``, ``/2`` and ``embed_dims`` channels, each opened by a
spiking patch embedding with a downsampling shortcut (the first halves the resolution twice, the others once); the
first two stages use Q-K attention (``qka_type``), the last spiking self-attention; every block adds a 1×1
Conv1d-BN-LIF MLP. Neurons: ``spiking_neuron(**kwargs)``, or LIF when ``spiking_neuron`` is ``None`` (the attention's
with τ = 2 and ``detach_reset=True``); always step mode ``'m'``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sj import layer
from sj.functional import set_step_mode
from sj.layer import QKAttention, SpikingSelfAttention
from sj.model._builders import NeuronArg, batch_norm2d, make_multi_step_neuron, max_pool_3x3, to_sequence

__all__ = ["QKFormer", "qkformer_10_384"]


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> layer.Conv2d:
    return layer.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=k // 2, step_mode="m")


def _shortcut(cin: int, cout: int, sn: nn.Module) -> nn.Sequential:
    return nn.Sequential(_conv(cin, cout, 1, 2), batch_norm2d(cout), sn)


class _PatchEmbedInit(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        hidden = out_channels // 2

        def sn() -> nn.Module:
            return make_multi_step_neuron(spiking_neuron, neuron_kwargs)

        self.conv1, self.bn1, self.pool1, self.lif1 = (_conv(in_channels, hidden), batch_norm2d(hidden),
                                                       max_pool_3x3(), sn())
        self.conv2, self.bn2, self.pool2, self.lif2 = (_conv(hidden, out_channels), batch_norm2d(out_channels),
                                                       max_pool_3x3(), sn())
        self.conv3, self.bn3, self.lif3 = _conv(out_channels, out_channels), batch_norm2d(out_channels), sn()
        self.shortcut = _shortcut(hidden, out_channels, sn())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lif1(self.pool1(self.bn1(self.conv1(x))))
        y = self.lif2(self.pool2(self.bn2(self.conv2(x))))
        return self.lif3(self.bn3(self.conv3(y))) + self.shortcut(x)


class _PatchEmbedStage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, spiking_neuron: NeuronArg,
                 neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()

        def sn() -> nn.Module:
            return make_multi_step_neuron(spiking_neuron, neuron_kwargs)

        self.conv1, self.bn1, self.pool, self.lif1 = (_conv(in_channels, out_channels), batch_norm2d(out_channels),
                                                      max_pool_3x3(), sn())
        self.conv2, self.bn2, self.lif2 = _conv(out_channels, out_channels), batch_norm2d(out_channels), sn()
        self.shortcut = _shortcut(in_channels, out_channels, sn())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lif1(self.pool(self.bn1(self.conv1(x))))
        return self.lif2(self.bn2(self.conv2(y))) + self.shortcut(x)


class _MLP(nn.Module):
    def __init__(self, dim: int, hidden_dim: int, spiking_neuron: NeuronArg, neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.fc1 = layer.Conv1d(dim, hidden_dim, kernel_size=1, step_mode="m")
        self.bn1 = layer.BatchNorm1d(hidden_dim, step_mode="m")
        self.lif1 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.fc2 = layer.Conv1d(hidden_dim, dim, kernel_size=1, step_mode="m")
        self.bn2 = layer.BatchNorm1d(dim, step_mode="m")
        self.lif2 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif2(self.bn2(self.fc2(self.lif1(self.bn1(self.fc1(x))))))


class _Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qka_type: str, self_attention: bool,
                 spiking_neuron: NeuronArg, neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.attn = (SpikingSelfAttention(dim, num_heads, spiking_neuron, **neuron_kwargs) if self_attention
                     else QKAttention(dim, num_heads, qka_type, spiking_neuron, **neuron_kwargs))
        self.mlp = _MLP(dim, int(dim * mlp_ratio), spiking_neuron, neuron_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(3)
        tokens = tokens + self.attn(tokens)
        return (tokens + self.mlp(tokens)).reshape(x.shape)


class QKFormer(nn.Module):
    """QKFormer (see the module docstring).

    Args:
        T: steps a static image is repeated for. Default 4.
        in_channels, num_classes: Defaults 3, 1000.
        embed_dims: channels of the last stage (divisible by 4). Default 384.
        num_heads, depths: heads and blocks of the three stages. Defaults (3, 6, 6), (1, 2, 7).
        mlp_ratio: MLP expansion. Default 4.0.
        qka_type: ``'token'`` or ``'channel'`` Q-K attention in the first two stages.
        spiking_neuron, kwargs: the neurons (see the module docstring).
    """

    def __init__(self, T: int = 4, in_channels: int = 3, num_classes: int = 1000, embed_dims: int = 384,
                 num_heads: tuple[int, int, int] = (3, 6, 6), depths: tuple[int, int, int] = (1, 2, 7),
                 mlp_ratio: float = 4.0, qka_type: str = "token", spiking_neuron: NeuronArg = None,
                 **kwargs: Any) -> None:
        super().__init__()
        if len(num_heads) != 3 or len(depths) != 3:
            raise ValueError("num_heads and depths must contain three stage values")
        if embed_dims % 4:
            raise ValueError(f"embed_dims must be divisible by 4, got {embed_dims}")
        dims = (embed_dims // 4, embed_dims // 2, embed_dims)
        self.T = T
        self.patch_embed1 = _PatchEmbedInit(in_channels, dims[0], spiking_neuron, kwargs)
        self.patch_embed2 = _PatchEmbedStage(dims[0], dims[1], spiking_neuron, kwargs)
        self.patch_embed3 = _PatchEmbedStage(dims[1], dims[2], spiking_neuron, kwargs)
        for i in range(3):
            setattr(self, f"stage{i + 1}", nn.ModuleList(
                _Block(dims[i], num_heads[i], mlp_ratio, qka_type, i == 2, spiking_neuron, kwargs)
                for _ in range(depths[i])))
        self.head = nn.Linear(embed_dims, num_classes)
        set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = to_sequence(x, self.T)
        for i in (1, 2, 3):
            x = getattr(self, f"patch_embed{i}")(x)
            for block in getattr(self, f"stage{i}"):
                x = block(x)
        return self.head(x.flatten(3).mean(dim=-1).mean(0))


def qkformer_10_384(T: int = 4, in_channels: int = 3, num_classes: int = 1000, spiking_neuron: NeuronArg = None,
                    **kwargs: Any) -> QKFormer:
    """QKFormer-10-384: 384 dims, (6, 6, 6) heads, (1, 2, 7) blocks."""
    return QKFormer(T, in_channels, num_classes, 384, (6, 6, 6), (1, 2, 7), spiking_neuron=spiking_neuron, **kwargs)
