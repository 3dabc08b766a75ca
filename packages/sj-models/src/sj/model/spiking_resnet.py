"""Spiking ResNets (SpikingJelly's ``model.spiking_resnet``): torchvision's ResNets with every ReLU replaced by a
spiking neuron (``out = sn(bn(conv(...)) + shortcut(x))``). See :mod:`sj.model._resnet` for the layout.

Every builder takes SpikingJelly's keywords: ``pretrained`` (load torchvision's ImageNet weights from the torch hub
cache, downloading them there if absent), ``progress``, ``spiking_neuron`` (a neuron class, e.g.
:class:`sj.neuron.IFNode`), ``num_classes``, ``zero_init_residual``, ``norm_layer``, ... and passes every other keyword
(``surrogate_function=``, ``detach_reset=``, ``tau=``, ``backend=``, ...) to each neuron.

Example::

    net = spiking_resnet18(spiking_neuron=neuron.IFNode, surrogate_function=surrogate.ATan(), detach_reset=True)
    functional.set_step_mode(net, "m")
    y = net(x_seq)  # [T, N, 3, H, W] -> [T, N, 1000]
"""

from __future__ import annotations

from typing import Any

from sj.model._builders import NeuronClass
from sj.model._resnet import (  # conv1x1, conv3x3: at SpikingJelly's path
    ResidualBlock,
    ResNet,
    build,
    conv1x1,  # noqa: F401
    conv3x3,  # noqa: F401
)

__all__ = ["SpikingResNet", "spiking_resnet18", "spiking_resnet34", "spiking_resnet50", "spiking_resnet101",
           "spiking_resnet152", "spiking_resnext50_32x4d", "spiking_resnext101_32x8d", "spiking_wide_resnet50_2",
           "spiking_wide_resnet101_2"]


class BasicBlock(ResidualBlock):
    """Two 3×3 conv-BN stages; ``sn2(bn2(conv2(sn1(bn1(conv1(x))))) + shortcut(x))``."""


class Bottleneck(ResidualBlock):
    """1×1, 3×3 (stride, groups), 1×1 (×4 channels) conv-BN stages; the last neuron fires on the sum."""

    expansion = 4
    bottleneck = True


class SpikingResNet(ResNet):
    """A spiking ResNet: ``SpikingResNet(block, layers, num_classes=1000, zero_init_residual=False, groups=1,
    width_per_group=64, replace_stride_with_dilation=None, norm_layer=None, spiking_neuron=None, **kwargs)``;
    ``kwargs`` go to every neuron. ``[N, 3, H, W]`` → ``[N, num_classes]`` (step mode ``'s'``) or
    ``[T, N, 3, H, W]`` → ``[T, N, num_classes]`` (``'m'``)."""

    def __init__(self, block: type[ResidualBlock], layers: list[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: list[bool] | None = None, norm_layer: Any = None,
                 spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__(block, layers, num_classes, zero_init_residual, groups, width_per_group,
                         replace_stride_with_dilation, norm_layer, spiking_neuron=spiking_neuron, **kwargs)


def _spiking_resnet(arch: str, pretrained: bool, progress: bool, spiking_neuron: NeuronClass | None,
                    **kwargs: Any) -> SpikingResNet:
    return build(SpikingResNet, (BasicBlock, Bottleneck), arch, pretrained, progress, spiking_neuron=spiking_neuron,
                 **kwargs)


def spiking_resnet18(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                     **kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-18 (see the module docstring for the arguments)."""
    return _spiking_resnet("resnet18", pretrained, progress, spiking_neuron, **kwargs)


def spiking_resnet34(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                     **kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-34 (see the module docstring for the arguments)."""
    return _spiking_resnet("resnet34", pretrained, progress, spiking_neuron, **kwargs)


def spiking_resnet50(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                     **kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-50 (see the module docstring for the arguments)."""
    return _spiking_resnet("resnet50", pretrained, progress, spiking_neuron, **kwargs)


def spiking_resnet101(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                      **kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-101 (see the module docstring for the arguments)."""
    return _spiking_resnet("resnet101", pretrained, progress, spiking_neuron, **kwargs)


def spiking_resnet152(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                      **kwargs: Any) -> SpikingResNet:
    """Spiking ResNet-152 (see the module docstring for the arguments)."""
    return _spiking_resnet("resnet152", pretrained, progress, spiking_neuron, **kwargs)


def spiking_resnext50_32x4d(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                            **kwargs: Any) -> SpikingResNet:
    """Spiking ResNeXt-50 32x4d (see the module docstring for the arguments)."""
    return _spiking_resnet("resnext50_32x4d", pretrained, progress, spiking_neuron, **kwargs)


def spiking_resnext101_32x8d(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                             **kwargs: Any) -> SpikingResNet:
    """Spiking ResNeXt-101 32x8d (see the module docstring for the arguments)."""
    return _spiking_resnet("resnext101_32x8d", pretrained, progress, spiking_neuron, **kwargs)


def spiking_wide_resnet50_2(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                            **kwargs: Any) -> SpikingResNet:
    """Spiking Wide ResNet-50-2 (see the module docstring for the arguments)."""
    return _spiking_resnet("wide_resnet50_2", pretrained, progress, spiking_neuron, **kwargs)


def spiking_wide_resnet101_2(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                             **kwargs: Any) -> SpikingResNet:
    """Spiking Wide ResNet-101-2 (see the module docstring for the arguments)."""
    return _spiking_resnet("wide_resnet101_2", pretrained, progress, spiking_neuron, **kwargs)

