"""A compact Spikformer (Zhou et al., 2023, "Spikformer: When Spiking Neural Network Meets Transformer"), the
CIFAR layout: spiking patch splitting (4 conv-BN-neuron stages, max pooling in the last two, a relative position
embedding conv added back), then ``depth`` encoder blocks of spiking self-attention (SSA: Q, K, V as linear-BN-neuron
spikes, ``attn = Q·Kᵀ·scale`` without softmax, ``attn·V`` → neuron (threshold 0.5) → linear-BN-neuron) and a spiking
MLP, each with a residual addition; the classifier reads the mean over tokens.

Input ``[T, N, C, H, W]`` (H, W divisible by 4), output ``[T, N, num_classes]``. Defaults give Spikformer-4-384 for
CIFAR-10 (9.32 M parameters in the paper).
"""

from __future__ import annotations

import torch
from torch import nn

from sj import layer
from sj.model.common import NeuronArg, NeuronFactory, SurrogateArg, multi_step
from sj.neuron import LIFNode


class TokenLinear(nn.Module):
    """Linear → BatchNorm1d (over the feature dimension) → neuron on tokens ``[T, N, L, C_in]`` → ``[T, N, L, C]``."""

    def __init__(self, cin: int, cout: int, sn: NeuronFactory, **overrides) -> None:
        super().__init__()
        self.linear = nn.Linear(cin, cout)
        self.bn = nn.BatchNorm1d(cout)
        self.sn = sn(**overrides)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x.flatten(0, 1))  # [T·N, L, C]
        y = self.bn(y.transpose(1, 2)).transpose(1, 2)
        return self.sn(y.view(*x.shape[:-1], y.shape[-1]))


class SpikingSelfAttention(nn.Module):
    """SSA: ``neuron_0.5(Q·Kᵀ·V·scale)`` over ``heads`` heads, then a linear-BN-neuron projection."""

    def __init__(self, dim: int, heads: int, sn: NeuronFactory, scale: float = 0.125) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"SpikingSelfAttention: dim {dim} is not divisible by heads {heads}")
        self.heads, self.scale = heads, scale
        self.q, self.k, self.v = (TokenLinear(dim, dim, sn) for _ in range(3))
        self.attn_sn = sn(v_threshold=0.5)
        self.proj = TokenLinear(dim, dim, sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T, N, L, C = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:  # [T, N, heads, L, C/heads]
            return t.view(T, N, L, self.heads, C // self.heads).transpose(2, 3)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        y = (q @ k.transpose(-2, -1) * self.scale) @ v
        y = self.attn_sn(y.transpose(2, 3).reshape(T, N, L, C))
        return self.proj(y)


class SpikformerBlock(nn.Module):
    """``x + SSA(x)``, then ``x + MLP(x)`` with a two-layer linear-BN-neuron MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, sn: NeuronFactory) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.attn = SpikingSelfAttention(dim, heads, sn)
        self.mlp = nn.Sequential(TokenLinear(dim, hidden, sn), TokenLinear(hidden, dim, sn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class SpikingPatchSplitting(nn.Module):
    """SPS: conv-BN-neuron with channels dim/8, dim/4, dim/2 (max pool), dim (max pool), plus an RPE conv-BN-neuron
    added back; ``[T, N, C, H, W]`` → tokens ``[T, N, H·W/16, dim]``."""

    def __init__(self, in_channels: int, dim: int, sn: NeuronFactory) -> None:
        super().__init__()
        if dim % 8:
            raise ValueError(f"Spikformer: embed_dim must be a multiple of 8, got {dim}")
        chans = [in_channels, dim // 8, dim // 4, dim // 2, dim]
        stages: list[nn.Module] = []
        for i in range(4):
            stages += [layer.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False),
                       layer.BatchNorm2d(chans[i + 1]), sn()]
            if i >= 2:
                stages.append(layer.MaxPool2d(3, stride=2, padding=1))
        self.stages = nn.Sequential(*stages)
        self.rpe = nn.Sequential(layer.Conv2d(dim, dim, 3, padding=1, bias=False), layer.BatchNorm2d(dim), sn())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(x)
        x = x + self.rpe(x)
        return x.flatten(-2).transpose(-1, -2)


class Spikformer(nn.Module):
    """Spikformer: ``[T, N, in_channels, H, W]`` → ``[T, N, num_classes]``.

    Args:
        num_classes: classes. Default 10.
        embed_dim: token width (multiple of 8 and of ``heads``). Default 384.
        depth: encoder blocks. Default 4.
        heads: attention heads. Default 12.
        mlp_ratio: MLP hidden width / embed_dim. Default 4.
        in_channels: input channels. Default 3.
        neuron, surrogate, neuron_kwargs: see :class:`~sj.model.common.NeuronFactory` (default LIF, τ = 2,
            ``detach_reset=True``, as the paper).
    """

    def __init__(self, num_classes: int = 10, embed_dim: int = 384, depth: int = 4, heads: int = 12,
                 mlp_ratio: float = 4.0, in_channels: int = 3, neuron: NeuronArg = LIFNode,
                 surrogate: SurrogateArg = None, **neuron_kwargs) -> None:
        super().__init__()
        if neuron is LIFNode:
            neuron_kwargs = {"tau": 2.0, "detach_reset": True, **neuron_kwargs}
        sn = NeuronFactory(neuron, surrogate, **neuron_kwargs)
        self.patch_embed = SpikingPatchSplitting(in_channels, embed_dim, sn)
        self.blocks = nn.Sequential(*(SpikformerBlock(embed_dim, heads, mlp_ratio, sn) for _ in range(depth)))
        self.head = nn.Linear(embed_dim, num_classes)
        multi_step(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.patch_embed(x)).mean(2))


def spikformer(**kwargs) -> Spikformer:
    """Spikformer (defaults: Spikformer-4-384 for CIFAR-10; see :class:`Spikformer`)."""
    return Spikformer(**kwargs)
