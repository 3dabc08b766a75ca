"""Spiking ResNet (Hu et al. / Zheng et al. layout) and SEW ResNet (Fang et al., 2021, "Deep Residual Learning in
Spiking Neural Networks"), written after torchvision's ResNet (v1.5: stride in the 3×3 conv of the bottleneck) with
each ReLU replaced by a spiking neuron. With parameter-free neurons (IF, LIF) the parameter counts equal torchvision's.

Both take ``[T, N, C, H, W]`` and return ``[T, N, num_classes]`` (the classifier output at every step).

- spiking ResNet block: ``out = sn(bn2(conv2(sn(bn1(conv1(x))))) + downsample(x))``.
- SEW block: ``out = g(sn(bn2(conv2(...))), s)`` with ``s = x`` or ``sn(downsample(x))`` and the connect function
  ``g``: ``'ADD'`` (A + S), ``'AND'`` (A·S) or ``'IAND'`` ((1 − A)·S).
"""

from __future__ import annotations

import torch
from torch import nn

from sj import layer
from sj.model.common import NeuronArg, NeuronFactory, SurrogateArg, multi_step
from sj.neuron import IFNode

CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


def connect(a: torch.Tensor, s: torch.Tensor, cnf: str) -> torch.Tensor:
    """SEW connect function ``g(A, S)`` of the residual branch ``A`` and the shortcut ``S``."""
    if cnf == "ADD":
        return a + s
    if cnf == "AND":
        return a * s
    if cnf == "IAND":
        return (1.0 - a) * s
    raise ValueError(f"connect function must be one of {CONNECT_FUNCTIONS}, got {cnf!r}")


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> layer.Conv2d:
    return layer.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


class _Block(nn.Module):
    """A residual block (basic: 3×3, 3×3; bottleneck: 1×1, 3×3, 1×1 ×4), spiking (``cnf=None``) or SEW."""

    def __init__(self, cin: int, width: int, stride: int, bottleneck: bool, sn: NeuronFactory,
                 cnf: str | None) -> None:
        super().__init__()
        self.expansion = 4 if bottleneck else 1
        cout = width * self.expansion
        if bottleneck:
            chans = [(cin, width, 1, 1), (width, width, 3, stride), (width, cout, 1, 1)]
        else:
            chans = [(cin, width, 3, stride), (width, cout, 3, 1)]
        self.convs = nn.ModuleList(_conv(a, b, k, s) for a, b, k, s in chans)
        self.bns = nn.ModuleList(layer.BatchNorm2d(b) for _, b, _, _ in chans)
        self.sns = nn.ModuleList(sn() for _ in chans)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(_conv(cin, cout, 1, stride), layer.BatchNorm2d(cout))
        if cnf is not None and cnf not in CONNECT_FUNCTIONS:
            raise ValueError(f"cnf must be one of {CONNECT_FUNCTIONS}, got {cnf!r}")
        self.cnf = cnf
        self.downsample_sn = sn() if cnf is not None and self.downsample is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        last = len(self.convs) - 1
        for i, (conv, bn, sn) in enumerate(zip(self.convs, self.bns, self.sns)):
            out = bn(conv(out))
            if i < last or self.cnf is not None:
                out = sn(out)
        shortcut = x if self.downsample is None else self.downsample(x)
        if self.cnf is None:
            return self.sns[last](out + shortcut)
        if self.downsample_sn is not None:
            shortcut = self.downsample_sn(shortcut)
        return connect(out, shortcut, self.cnf)


class SpikingResNet(nn.Module):
    """A spiking (``cnf=None``) or SEW ResNet: ``[T, N, in_channels, H, W]`` → ``[T, N, num_classes]``.

    Args:
        layers: blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
        bottleneck: bottleneck blocks (ResNet-50 and up) instead of basic ones.
        num_classes: classifier outputs. Default 1000.
        neuron, surrogate, neuron_kwargs: see :class:`~sj.model.common.NeuronFactory` (default IFNode).
        cnf: ``None`` for a spiking ResNet, else the SEW connect function (``'ADD'``, ``'AND'``, ``'IAND'``).
        in_channels: input channels. Default 3.
        zero_init_residual: zero the last BN weight of each block (as torchvision's option). Default ``False``.
    """

    def __init__(self, layers: tuple[int, ...], bottleneck: bool, num_classes: int = 1000,
                 neuron: NeuronArg = IFNode, surrogate: SurrogateArg = None, cnf: str | None = None,
                 in_channels: int = 3, zero_init_residual: bool = False, **neuron_kwargs) -> None:
        super().__init__()
        sn = NeuronFactory(neuron, surrogate, **neuron_kwargs)
        self.conv1 = layer.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = layer.BatchNorm2d(64)
        self.sn1 = sn()
        self.maxpool = layer.MaxPool2d(3, stride=2, padding=1)
        stages, cin = [], 64
        for i, n in enumerate(layers):
            width = 64 * 2 ** i
            blocks = []
            for j in range(n):
                blocks.append(_Block(cin, width, 2 if (i > 0 and j == 0) else 1, bottleneck, sn, cnf))
                cin = width * blocks[-1].expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = layer.AdaptiveAvgPool2d((1, 1))
        self.flatten = layer.Flatten()
        self.fc = layer.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, _Block):
                    nn.init.zeros_(m.bns[-1].weight)
        multi_step(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.sn1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


_DEPTHS = {18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False), 50: ((3, 4, 6, 3), True)}


def spiking_resnet18(**kwargs) -> SpikingResNet:
    """Spiking ResNet-18 (see :class:`SpikingResNet` for the arguments)."""
    return SpikingResNet(*_DEPTHS[18], **kwargs)


def spiking_resnet34(**kwargs) -> SpikingResNet:
    """Spiking ResNet-34 (see :class:`SpikingResNet` for the arguments)."""
    return SpikingResNet(*_DEPTHS[34], **kwargs)


def spiking_resnet50(**kwargs) -> SpikingResNet:
    """Spiking ResNet-50 (see :class:`SpikingResNet` for the arguments)."""
    return SpikingResNet(*_DEPTHS[50], **kwargs)


def sew_resnet18(cnf: str = "ADD", **kwargs) -> SpikingResNet:
    """SEW ResNet-18 with connect function ``cnf`` (default ``'ADD'``; see :class:`SpikingResNet`)."""
    return SpikingResNet(*_DEPTHS[18], cnf=cnf, **kwargs)


def sew_resnet34(cnf: str = "ADD", **kwargs) -> SpikingResNet:
    """SEW ResNet-34 with connect function ``cnf`` (default ``'ADD'``)."""
    return SpikingResNet(*_DEPTHS[34], cnf=cnf, **kwargs)


def sew_resnet50(cnf: str = "ADD", **kwargs) -> SpikingResNet:
    """SEW ResNet-50 with connect function ``cnf`` (default ``'ADD'``)."""
    return SpikingResNet(*_DEPTHS[50], cnf=cnf, **kwargs)
