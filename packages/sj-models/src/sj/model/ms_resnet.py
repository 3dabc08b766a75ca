"""MS-ResNet (Hu et al. 2024, "Advancing Spiking Neural Networks Toward Deep Residual Learning", membrane shortcuts) and
the MaxPool ResNet of MaxFormer's CIFAR experiments (SpikingJelly 2.0's ``model.ms_resnet``), with SpikingJelly's module
names.

``[N, C, H, W]`` (repeated over ``T`` steps) or ``[T, N, C, H, W]`` → ``[N, num_classes]`` (the head's outputs averaged
over time). A conv-BN stem, three or four stages of pre-activation blocks ``x + BN(conv(LIF(BN(conv(LIF(x))))))`` (the
shortcut carries membrane potentials; a 1×1 conv-BN when the shape changes), a LIF, global average pooling and a linear
head. MS-ResNet's neurons default to LIF with τ = 4/3, threshold 0.5, ``decay_input=False``, ``detach_reset=True`` and
the rectangular surrogate (α = 2), its BN weights to 0.5 (a block's last one to 0); MaxResNet's to LIF τ = 2 with
``detach_reset=True``, BN weights 1, and a 3×3 max pooling instead of a strided convolution where a stage downsamples.
``spiking_neuron(**kwargs)`` replaces the default neuron; step mode ``'m'``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from sj import layer, surrogate
from sj.functional import set_step_mode
from sj.model._builders import NeuronArg, batch_norm2d, make_multi_step_neuron, max_pool_3x3, to_sequence

__all__ = ["MSResNet", "MaxResNet", "max_resnet18", "ms_resnet18", "ms_resnet34"]


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> layer.Conv2d:
    return layer.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False, step_mode="m")


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> layer.Conv2d:
    return layer.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, step_mode="m")


class _MSBlock(nn.Module):
    """``x + bn2(conv2(spike2(bn1(conv1(spike1(x))))))`` (shortcut ``downsample(x)`` when given)."""

    neuron_defaults: ClassVar[dict[str, Any]] = {"tau": 4.0 / 3.0, "v_threshold": 0.5, "detach_reset": True,
                                                 "decay_input": False,
                                                 "surrogate_function": surrogate.Rect(alpha=2.0)}
    bn_weight = 0.5
    zero_init = True  # the last BN weight starts at 0: the block starts as the identity
    pool = False  # downsample by a 3×3 max pooling after conv1 instead of a strided conv1

    @classmethod
    def _make_lif(cls, spiking_neuron: NeuronArg = None, kwargs: dict[str, Any] | None = None) -> nn.Module:
        return make_multi_step_neuron(spiking_neuron, kwargs or {}, cls.neuron_defaults)

    def __init__(self, in_channels: int, out_channels: int, stride: int, downsample: nn.Module | None,
                 spiking_neuron: NeuronArg = None, neuron_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.spike1 = self._make_lif(spiking_neuron, neuron_kwargs)
        self.conv1 = _conv3x3(in_channels, out_channels, 1 if self.pool else stride)
        self.bn1 = batch_norm2d(out_channels, self.bn_weight)
        self.spike2 = self._make_lif(spiking_neuron, neuron_kwargs)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = batch_norm2d(out_channels, 0.0 if self.zero_init else self.bn_weight)
        self.downsample = downsample
        if self.pool:
            self.max_pool = layer.MaxPool2d(kernel_size=3, stride=stride, padding=1, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn1(self.conv1(self.spike1(x)))
        if self.pool:
            out = self.max_pool(out)
        return self.bn2(self.conv2(self.spike2(out))) + identity


class _MaxResNetBlock(_MSBlock):
    neuron_defaults: ClassVar[dict[str, Any]] = {"tau": 2.0, "detach_reset": True}
    bn_weight = 1.0
    zero_init = False


class _MaxResNetMaxBlock(_MaxResNetBlock):
    pool = True


class MSResNet(nn.Module):
    """MS-ResNet (see the module docstring).

    Args:
        T: steps a static image is repeated for. Default 6.
        in_channels, num_classes: Defaults 3, 1000.
        layers: blocks per stage (three or four stages). Default (2, 2, 2, 2).
        base_channels: stem channels (and first stage's, by default). Default 64.
        stem_kernel_size, stem_stride, stem_pool: the stem convolution and an optional 3×3/2 max pooling.
        stage_channels: channels per stage (default ``base_channels · 2^i``).
        spiking_neuron, kwargs: the neurons (see the module docstring).
    """

    _block_type: type[_MSBlock] = _MSBlock
    _transition_block_type: type[_MSBlock] = _MSBlock
    _first_stage_stride = 2
    _bn_weight = 0.5

    def __init__(self, T: int = 6, in_channels: int = 3, num_classes: int = 1000,
                 layers: tuple[int, ...] = (2, 2, 2, 2), base_channels: int = 64, stem_kernel_size: int = 7,
                 stem_stride: int = 2, stem_pool: bool = False, stage_channels: tuple[int, ...] | None = None,
                 spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        super().__init__()
        if len(layers) not in (3, 4):
            raise ValueError(f"layers must contain three or four stage depths, got {layers}")
        stage_channels = stage_channels or tuple(base_channels * 2 ** i for i in range(len(layers)))
        if len(stage_channels) != len(layers):
            raise ValueError(f"stage_channels {stage_channels} must match layers {layers}")
        self.T, self.inplanes = T, base_channels
        self.stem = nn.Sequential(layer.Conv2d(in_channels, base_channels, stem_kernel_size, stride=stem_stride,
                                               padding=stem_kernel_size // 2, bias=False, step_mode="m"),
                                  batch_norm2d(base_channels, self._bn_weight))
        if stem_pool:
            self.stem.append(max_pool_3x3())
        strides = (self._first_stage_stride, 2, 2, 2)
        for i, (channels, blocks) in enumerate(zip(stage_channels, layers)):
            setattr(self, f"layer{i + 1}", self._make_layer(channels, blocks, strides[i], spiking_neuron, kwargs))
        if len(layers) == 3:
            self.layer4 = None
        self.head_lif = self._block_type._make_lif(spiking_neuron, kwargs)
        self.avgpool = layer.AdaptiveAvgPool2d((1, 1), step_mode="m")
        self.head = layer.Linear(stage_channels[-1], num_classes, step_mode="m")
        set_step_mode(self, "m")

    def _make_layer(self, out_channels: int, blocks: int, stride: int, spiking_neuron: NeuronArg,
                    kwargs: dict[str, Any]) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != out_channels:
            downsample = nn.Sequential(_conv1x1(self.inplanes, out_channels, stride),
                                       batch_norm2d(out_channels, self._bn_weight))
        first = self._transition_block_type if stride != 1 else self._block_type
        stage = [first(self.inplanes, out_channels, stride, downsample, spiking_neuron, kwargs)]
        self.inplanes = out_channels
        stage += [self._block_type(out_channels, out_channels, 1, None, spiking_neuron, kwargs)
                  for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(to_sequence(x, self.T)))))
        if self.layer4 is not None:
            x = self.layer4(x)
        return self.head(self.avgpool(self.head_lif(x)).flatten(2)).mean(0)


class MaxResNet(MSResNet):
    """The MaxPool ResNet (see the module docstring); arguments as :class:`MSResNet`."""

    _block_type = _MaxResNetBlock
    _transition_block_type = _MaxResNetMaxBlock
    _first_stage_stride = 1
    _bn_weight = 1.0


def ms_resnet18(T: int = 6, in_channels: int = 3, num_classes: int = 1000, spiking_neuron: NeuronArg = None,
                **kwargs: Any) -> MSResNet:
    """MS-ResNet-18 (ImageNet layout)."""
    return MSResNet(T, in_channels, num_classes, spiking_neuron=spiking_neuron, **kwargs)


def ms_resnet34(T: int = 6, in_channels: int = 3, num_classes: int = 1000, spiking_neuron: NeuronArg = None,
                **kwargs: Any) -> MSResNet:
    """MS-ResNet-34 (ImageNet layout)."""
    return MSResNet(T, in_channels, num_classes, (3, 4, 6, 3), spiking_neuron=spiking_neuron, **kwargs)


def max_resnet18(T: int = 4, in_channels: int = 3, num_classes: int = 10, spiking_neuron: NeuronArg = None,
                 **kwargs: Any) -> MaxResNet:
    """MaxResNet-18 for CIFAR: three stages (3, 3, 2 blocks; 128, 256, 512 channels), a 3×3 stem."""
    return MaxResNet(T, in_channels, num_classes, (3, 3, 2), stage_channels=(128, 256, 512), stem_kernel_size=3,
                     stem_stride=1, stem_pool=False, spiking_neuron=spiking_neuron, **kwargs)
