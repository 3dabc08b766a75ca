"""Spiking VGG-11/16 (with or without batch norm), written after torchvision's VGG with each ReLU replaced by a
spiking neuron; with parameter-free neurons the parameter counts equal torchvision's.

``[T, N, C, H, W]`` → ``[T, N, num_classes]``. The adaptive average pooling to 7×7 lets any input size ≥ 32 work.
"""

from __future__ import annotations

import torch
from torch import nn

from sj import layer
from sj.model.common import NeuronArg, NeuronFactory, SurrogateArg, multi_step
from sj.neuron import IFNode

CONFIGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


class SpikingVGG(nn.Module):
    """A spiking VGG.

    Args:
        depth: 11 or 16.
        batch_norm: a BatchNorm after every convolution.
        num_classes: classifier outputs. Default 1000.
        neuron, surrogate, neuron_kwargs: see :class:`~sj.model.common.NeuronFactory` (default IFNode).
        dropout: dropout probability in the classifier (masks shared over time). Default 0.5.
        in_channels: input channels. Default 3.
    """

    def __init__(self, depth: int, batch_norm: bool = False, num_classes: int = 1000, neuron: NeuronArg = IFNode,
                 surrogate: SurrogateArg = None, dropout: float = 0.5, in_channels: int = 3,
                 **neuron_kwargs) -> None:
        super().__init__()
        if depth not in CONFIGS:
            raise ValueError(f"SpikingVGG: depth must be one of {sorted(CONFIGS)}, got {depth}")
        sn = NeuronFactory(neuron, surrogate, **neuron_kwargs)
        feats: list[nn.Module] = []
        cin = in_channels
        for v in CONFIGS[depth]:
            if v == "M":
                feats.append(layer.MaxPool2d(2, 2))
                continue
            feats.append(layer.Conv2d(cin, int(v), 3, padding=1))
            if batch_norm:
                feats.append(layer.BatchNorm2d(int(v)))
            feats.append(sn())
            cin = int(v)
        self.features = nn.Sequential(*feats)
        self.avgpool = layer.AdaptiveAvgPool2d((7, 7))
        self.flatten = layer.Flatten()
        self.classifier = nn.Sequential(
            layer.Linear(512 * 7 * 7, 4096), sn(), layer.Dropout(dropout),
            layer.Linear(4096, 4096), sn(), layer.Dropout(dropout),
            layer.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        multi_step(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


def spiking_vgg11(**kwargs) -> SpikingVGG:
    """Spiking VGG-11 (see :class:`SpikingVGG`)."""
    return SpikingVGG(11, batch_norm=False, **kwargs)


def spiking_vgg11_bn(**kwargs) -> SpikingVGG:
    """Spiking VGG-11 with batch norm."""
    return SpikingVGG(11, batch_norm=True, **kwargs)


def spiking_vgg16(**kwargs) -> SpikingVGG:
    """Spiking VGG-16."""
    return SpikingVGG(16, batch_norm=False, **kwargs)


def spiking_vgg16_bn(**kwargs) -> SpikingVGG:
    """Spiking VGG-16 with batch norm."""
    return SpikingVGG(16, batch_norm=True, **kwargs)
