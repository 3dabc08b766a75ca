"""Spikformer (Zhou et al. 2023, "Spikformer: When Spiking Neural Network Meets Transformer"; SpikingJelly 2.0's
``model.spikformer``), with SpikingJelly's module names.

``[N, C, H, W]`` (repeated over ``T`` steps) or ``[T, N, C, H, W]`` → ``[T, N, num_classes]``. A spiking patch stem
(four conv-BN-LIF stages of ``embed_dims/8 … embed_dims`` channels, max pooling from the third stage for 4×4
patches or from the first for 16×16, then a conv-BN-LIF relative position embedding added back), ``depths`` blocks of
spiking self-attention and a two-layer 1×1 conv-BN-LIF MLP (each with a residual addition), the mean over tokens and a
linear head. Neurons: ``spiking_neuron(**kwargs)``, or LIF with τ = 2 and ``detach_reset=True`` (attention threshold
0.5) when ``spiking_neuron`` is ``None``; always step mode ``'m'``.

:class:`SpikformerConfig` and :class:`SpikformerCIFAR10Config` are SpikingJelly's serialisable configurations of
Spikformer-S and Spikformer-4-384 (see :mod:`sj.model._vision_config`); ``build_model()`` builds them on one process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sj import layer
from sj.functional import set_step_mode
from sj.layer import SpikingSelfAttention
from sj.layer.attention import conv1d_bn
from sj.model._builders import LIF_DEFAULTS, NeuronArg, make_multi_step_neuron, to_sequence
from sj.model._vision_config import ModelConfig, NeuronConfig, resolve_neuron_config

__all__ = ["Spikformer", "SpikformerCIFAR10Config", "SpikformerConfig", "spikformer_cifar10", "spikformer_s",
           "spikformer_ti"]


class SpikformerConv2dBN(nn.Module):
    """Conv2d (no bias) → BatchNorm2d [→ MaxPool(3, 2, 1)] on the time-folded batch (``block``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 pool: bool = False) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
                                 nn.BatchNorm2d(out_channels)]
        if pool:
            mods.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.block = layer.SeqToANNContainer(*mods)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.block(x_seq)


class SpikformerConv2dBNLIF(nn.Module):
    """:class:`SpikformerConv2dBN` then a neuron."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 pool: bool = False, spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        super().__init__()
        self.conv_bn = SpikformerConv2dBN(in_channels, out_channels, kernel_size, stride, padding, pool)
        self.neuron = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.conv_bn(x_seq))


class SpikformerPatchStem(nn.Module):
    """The spiking patch splitting: ``[T, N, C, H, W]`` → ``[T, N, embed_dims, H/p, W/p]`` (p = ``patch_size``, 4 or
    16)."""

    def __init__(self, img_size_h: int = 224, img_size_w: int = 224, patch_size: int = 16, in_channels: int = 3,
                 embed_dims: int = 256, spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        super().__init__()
        if patch_size not in (4, 16):
            raise ValueError(f"SpikformerPatchStem supports patch_size=4 or 16, but got {patch_size}.")
        self.image_size, self.patch_size, self.embed_dims = (img_size_h, img_size_w), patch_size, embed_dims
        pool_from = 2 if patch_size == 4 else 0
        dims = [in_channels, embed_dims // 8, embed_dims // 4, embed_dims // 2, embed_dims]
        self.stages = nn.Sequential(*(SpikformerConv2dBNLIF(dims[i], dims[i + 1], 3, 1, 1, i >= pool_from,
                                                            spiking_neuron, **kwargs) for i in range(4)))
        self.positional_encoding = SpikformerConv2dBNLIF(embed_dims, embed_dims, 3, 1, 1, False, spiking_neuron,
                                                         **kwargs)
        self.grid_size = (img_size_h // patch_size, img_size_w // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = self.stages(x_seq)
        return self.positional_encoding(x_seq) + x_seq


class SpikformerMLP(nn.Module):
    """Two 1×1 Conv1d-BN-LIF layers on tokens ``[T, N, C, L]``."""

    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        super().__init__()
        self.fc1 = conv1d_bn(in_features, hidden_features)
        self.neuron1 = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)
        self.fc2 = conv1d_bn(hidden_features, out_features)
        self.neuron2 = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.neuron2(self.fc2(self.neuron1(self.fc1(x_seq))))


class SpikformerBlock(nn.Module):
    """``x + SSA(x)``, then ``x + MLP(x)``, on ``[T, N, C, H, W]`` (as tokens ``[T, N, C, H·W]``). With the default
    neuron, the attention keeps the paper's τ and ``detach_reset`` (as SpikingJelly)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, spiking_neuron: NeuronArg = None,
                 **kwargs: Any) -> None:
        super().__init__()
        attention_kwargs = kwargs if spiking_neuron is not None else {
            k: v for k, v in kwargs.items() if k not in ("tau", "detach_reset")}
        self.attn = SpikingSelfAttention(dim, num_heads, spiking_neuron, **attention_kwargs)
        self.mlp = SpikformerMLP(dim, int(dim * mlp_ratio), dim, spiking_neuron, **kwargs)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim != 5:
            raise ValueError(f"expected 5D input with shape [T, N, C, H, W], but got {x_seq.shape}")
        tokens = x_seq.flatten(3)
        tokens = tokens + self.attn(tokens)
        tokens = tokens + self.mlp(tokens)
        return tokens.reshape(x_seq.shape).contiguous()


class Spikformer(nn.Module):
    """Spikformer (see the module docstring).

    Args:
        T: steps a static image ``[N, C, H, W]`` is repeated for. Default 4.
        in_channels, img_size_h, img_size_w: the input. Defaults 3, 224, 224.
        patch_size: 4 (CIFAR) or 16 (ImageNet). Default 16.
        num_classes: classes. Default 1000.
        embed_dims, num_heads, mlp_ratio, depths: width, attention heads, MLP expansion, blocks. Defaults 256, 8,
            4.0, 4.
        spiking_neuron, kwargs: the neurons (see the module docstring).
    """

    def __init__(self, T: int = 4, in_channels: int = 3, img_size_h: int = 224, img_size_w: int = 224,
                 patch_size: int = 16, num_classes: int = 1000, embed_dims: int = 256, num_heads: int = 8,
                 mlp_ratio: float = 4.0, depths: int = 4, spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        super().__init__()
        self.T, self.num_classes, self.embed_dims, self.num_heads, self.depths = (T, num_classes, embed_dims,
                                                                                 num_heads, depths)
        self.patch_embed = SpikformerPatchStem(img_size_h, img_size_w, patch_size, in_channels, embed_dims,
                                               spiking_neuron, **kwargs)
        self.blocks = nn.ModuleList(SpikformerBlock(embed_dims, num_heads, mlp_ratio, spiking_neuron, **kwargs)
                                    for _ in range(depths))
        self.head = layer.Linear(embed_dims, num_classes, step_mode="m")
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 0.0)
        set_step_mode(self, "m")

    def forward_features(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, N, C, H, W]`` → the token mean ``[T, N, embed_dims]``."""
        x_seq = self.patch_embed(x_seq)
        for block in self.blocks:
            x_seq = block(x_seq)
        return x_seq.flatten(3).mean(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(to_sequence(x, self.T)))


def spikformer_ti(T: int = 4, in_channels: int = 3, img_size_h: int = 224, img_size_w: int = 224,
                  num_classes: int = 1000, spiking_neuron: NeuronArg = None, **kwargs: Any) -> Spikformer:
    """Spikformer-Ti (ImageNet, 16×16 patches): 256 dims, 8 heads, 4 blocks."""
    return Spikformer(T, in_channels, img_size_h, img_size_w, 16, num_classes, 256, 8, 4.0, 4, spiking_neuron,
                      **kwargs)


def spikformer_s(T: int = 4, in_channels: int = 3, img_size_h: int = 224, img_size_w: int = 224,
                 num_classes: int = 1000, spiking_neuron: NeuronArg = None, **kwargs: Any) -> Spikformer:
    """Spikformer-S (ImageNet, 16×16 patches): 384 dims, 12 heads, 6 blocks."""
    return Spikformer(T, in_channels, img_size_h, img_size_w, 16, num_classes, 384, 12, 4.0, 6, spiking_neuron,
                      **kwargs)


def spikformer_cifar10(T: int = 4, num_classes: int = 10, spiking_neuron: NeuronArg = None,
                       **kwargs: Any) -> Spikformer:
    """Spikformer-4-384 for CIFAR-10 (32×32, 4×4 patches): 384 dims, 12 heads, 4 blocks."""
    return Spikformer(T, 3, 32, 32, 4, num_classes, 384, 12, 4.0, 4, spiking_neuron, **kwargs)


def _as_step_batch_norms(module: nn.Module) -> None:
    """Replace every ``nn.BatchNorm1d``/``2d`` by an :mod:`sj.layer` one holding the same tensors, as SpikingJelly's
    configurations build Spikformer (inside the time-folding containers they stay in step mode ``'s'``)."""
    for name, child in module.named_children():
        cls = {nn.BatchNorm1d: layer.BatchNorm1d, nn.BatchNorm2d: layer.BatchNorm2d}.get(type(child))
        if cls is None:
            _as_step_batch_norms(child)
            continue
        norm = cls(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
        norm.load_state_dict(child.state_dict(), assign=True)
        setattr(module, name, norm.train(child.training))


def _configured(model: Spikformer, step_mode: str) -> Spikformer:
    _as_step_batch_norms(model)
    set_step_mode(model, step_mode)
    return model


@dataclass(frozen=True)
class SpikformerConfig(ModelConfig):
    """Spikformer-S (:func:`spikformer_s`: 384 dims, 12 heads, 6 blocks, 16×16 patches) as SpikingJelly's
    serialisable configuration.

    Args:
        time_steps: steps ``T`` (positive). Default 4.
        num_classes: classes (positive). Default 1000.
        step_mode: must be ``'m'`` (the default).
        image_height, image_width, in_channels: the input (positive). Defaults 224, 224, 3.
        neuron_config: a :class:`NeuronConfig` for every neuron; ``None`` (default) keeps the paper's LIF neurons.

    Raises ``ValueError`` for a non-positive number or another step mode (SpikingJelly's messages).
    """

    image_height: int = 224
    image_width: int = 224
    in_channels: int = 3
    neuron_config: NeuronConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_height <= 0 or self.image_width <= 0 or self.in_channels <= 0:
            raise ValueError("image dimensions and in_channels must be positive.")
        if self.step_mode != "m":
            raise ValueError("The built-in Spikformer requires step_mode='m'.")

    def build_model(self) -> Spikformer:
        """``spikformer_s(T=time_steps, in_channels, img_size_h=image_height, img_size_w=image_width, num_classes,
        <neuron_config>)`` on one process, its batch norms :mod:`sj.layer` ones (as SpikingJelly's configuration
        builds it; SpikingJelly then shards it across attention heads, which sj does not)."""
        spiking_neuron, kwargs = resolve_neuron_config(self.neuron_config)
        return _configured(spikformer_s(self.time_steps, self.in_channels, self.image_height, self.image_width,
                                        self.num_classes, spiking_neuron, **kwargs), self.step_mode)


@dataclass(frozen=True)
class SpikformerCIFAR10Config(ModelConfig):
    """Spikformer-4-384 for CIFAR-10 (:func:`spikformer_cifar10`: 32×32 input, 4×4 patches, 384 dims, 12 heads, 4
    blocks) as SpikingJelly's serialisable configuration.

    Args:
        time_steps: steps ``T`` (positive). Default 4.
        num_classes: classes (positive). Default 10.
        step_mode: must be ``'m'`` (the default).
        neuron_config: a :class:`NeuronConfig` for every neuron; ``None`` (default) keeps the paper's LIF neurons.

    Raises ``ValueError`` for a non-positive number or another step mode (SpikingJelly's messages).
    """

    num_classes: int = 10
    neuron_config: NeuronConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.step_mode != "m":
            raise ValueError("The built-in Spikformer requires step_mode='m'.")

    def build_model(self) -> Spikformer:
        """``spikformer_cifar10(T=time_steps, num_classes, <neuron_config>)`` on one process, its batch norms
        :mod:`sj.layer` ones (as SpikingJelly's configuration builds it; SpikingJelly then shards it across attention
        heads and up to two pipeline stages, which sj does not)."""
        spiking_neuron, kwargs = resolve_neuron_config(self.neuron_config)
        return _configured(spikformer_cifar10(self.time_steps, self.num_classes, spiking_neuron, **kwargs),
                           self.step_mode)
