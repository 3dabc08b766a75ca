"""Spiking VGGs (SpikingJelly's ``model.spiking_vgg``): torchvision's VGG-11/13/16/19, with or without batch norm,
with every ReLU replaced by a spiking neuron and torchvision's module indices (``features.{i}``,
``classifier.{0,3,6}``), so torchvision's ImageNet weights and SpikingJelly checkpoints load strictly.

Built in step mode ``'s'``: ``[N, 3, H, W]`` → ``[N, num_classes]``; after ``sj.functional.set_step_mode(net, 'm')``
``[T, N, 3, H, W]`` → ``[T, N, num_classes]`` (dropout masks shared over time). The adaptive average pooling to 7×7
lets any input of at least 32×32 through.

Every builder takes SpikingJelly's keywords: ``pretrained`` (torchvision's weights, from the torch hub cache),
``progress``, ``spiking_neuron`` (a neuron class), ``norm_layer`` (``_bn`` variants), ``num_classes``,
``init_weights``, and passes every other keyword (``surrogate_function=``, ``detach_reset=``, ...) to each neuron.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj import layer
from sj.model._builders import NeuronClass, flatten_features, load_torchvision_weights, make_neuron

__all__ = ["SpikingVGG", "spiking_vgg11", "spiking_vgg11_bn", "spiking_vgg13", "spiking_vgg13_bn", "spiking_vgg16",
           "spiking_vgg16_bn", "spiking_vgg19", "spiking_vgg19_bn"]

# torchvision's configurations: output channels of each 3×3 convolution, "M" a 2×2 max pooling
cfgs: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class SpikingVGG(nn.Module):
    """A spiking VGG: ``features`` (conv[-BN]-neuron and max pooling per ``cfg``), 7×7 adaptive average pooling and
    the classifier ``Linear(25088, 4096)``-neuron-dropout-``Linear(4096, 4096)``-neuron-dropout-``Linear(4096,
    num_classes)``.

    Args:
        cfg: a configuration of :data:`cfgs`.
        batch_norm: a norm layer after every convolution.
        norm_layer: its class (default :class:`sj.layer.BatchNorm2d`).
        num_classes: classifier outputs. Default 1000.
        init_weights: torchvision's initialisation (Kaiming normal convolutions, N(0, 0.01) linear layers).
        spiking_neuron: the neuron class; ``kwargs`` are passed to every neuron.
    """

    def __init__(self, cfg: list[int | str], batch_norm: bool = False,
                 norm_layer: Callable[[int], nn.Module] | None = None, num_classes: int = 1000,
                 init_weights: bool = True, spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.features = self.make_layers(cfg, batch_norm, norm_layer, spiking_neuron, **kwargs)
        self.avgpool = layer.AdaptiveAvgPool2d((7, 7))
        sn = [make_neuron(spiking_neuron, kwargs, "SpikingVGG") for _ in range(2)]
        self.classifier = nn.Sequential(layer.Linear(512 * 7 * 7, 4096), sn[0], layer.Dropout(),
                                        layer.Linear(4096, 4096), sn[1], layer.Dropout(),
                                        layer.Linear(4096, num_classes))
        if init_weights:
            self._initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(flatten_features(x, self.avgpool.step_mode))

    def _initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    @staticmethod
    def make_layers(cfg: list[int | str], batch_norm: bool = False,
                    norm_layer: Callable[[int], nn.Module] | None = None, neuron: NeuronClass | None = None,
                    **kwargs: Any) -> nn.Sequential:
        """The feature extractor of ``cfg`` (3 input channels)."""
        norm_layer = norm_layer or layer.BatchNorm2d
        layers: list[nn.Module] = []
        in_channels = 3
        for v in cfg:
            if v == "M":
                layers.append(layer.MaxPool2d(kernel_size=2, stride=2))
                continue
            layers.append(layer.Conv2d(in_channels, int(v), kernel_size=3, padding=1))
            if batch_norm:
                layers.append(norm_layer(int(v)))
            layers.append(make_neuron(neuron, kwargs, "SpikingVGG"))
            in_channels = int(v)
        return nn.Sequential(*layers)


def _spiking_vgg(arch: str, cfg: str, batch_norm: bool, pretrained: bool, progress: bool,
                 norm_layer: Callable[[int], nn.Module] | None, spiking_neuron: NeuronClass | None,
                 **kwargs: Any) -> SpikingVGG:
    if pretrained:
        kwargs["init_weights"] = False
    model = SpikingVGG(cfgs[cfg], batch_norm, norm_layer if batch_norm else None, spiking_neuron=spiking_neuron,
                       **kwargs)
    return load_torchvision_weights(model, arch, progress) if pretrained else model


def spiking_vgg11(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                  **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-11 (configuration "A"; see the module docstring for the arguments)."""
    return _spiking_vgg("vgg11", "A", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg11_bn(pretrained: bool = False, progress: bool = True,
                     norm_layer: Callable[[int], nn.Module] | None = None, spiking_neuron: NeuronClass | None = None,
                     **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-11 with a norm layer after every convolution (see the module docstring)."""
    return _spiking_vgg("vgg11_bn", "A", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs)


def spiking_vgg13(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                  **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-13 (configuration "B"; see the module docstring for the arguments)."""
    return _spiking_vgg("vgg13", "B", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg13_bn(pretrained: bool = False, progress: bool = True,
                     norm_layer: Callable[[int], nn.Module] | None = None, spiking_neuron: NeuronClass | None = None,
                     **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-13 with a norm layer after every convolution (see the module docstring)."""
    return _spiking_vgg("vgg13_bn", "B", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs)


def spiking_vgg16(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                  **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-16 (configuration "D"; see the module docstring for the arguments)."""
    return _spiking_vgg("vgg16", "D", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg16_bn(pretrained: bool = False, progress: bool = True,
                     norm_layer: Callable[[int], nn.Module] | None = None, spiking_neuron: NeuronClass | None = None,
                     **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-16 with a norm layer after every convolution (see the module docstring)."""
    return _spiking_vgg("vgg16_bn", "D", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs)


def spiking_vgg19(pretrained: bool = False, progress: bool = True, spiking_neuron: NeuronClass | None = None,
                  **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-19 (configuration "E"; see the module docstring for the arguments)."""
    return _spiking_vgg("vgg19", "E", False, pretrained, progress, None, spiking_neuron, **kwargs)


def spiking_vgg19_bn(pretrained: bool = False, progress: bool = True,
                     norm_layer: Callable[[int], nn.Module] | None = None, spiking_neuron: NeuronClass | None = None,
                     **kwargs: Any) -> SpikingVGG:
    """Spiking VGG-19 with a norm layer after every convolution (see the module docstring)."""
    return _spiking_vgg("vgg19_bn", "E", True, pretrained, progress, norm_layer, spiking_neuron, **kwargs)
