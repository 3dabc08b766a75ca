"""The residual networks of :mod:`sj.model.spiking_resnet` and :mod:`sj.model.sew_resnet`: torchvision's ResNet
(v1.5: the stride sits in the 3×3 convolution of a bottleneck) with every ReLU replaced by a spiking neuron, with
torchvision's (and SpikingJelly's) module names, so torchvision's ImageNet weights and SpikingJelly checkpoints load
strictly. Built in step mode ``'s'`` like SpikingJelly's; ``sj.functional.set_step_mode(net, 'm')`` makes them take
``[T, N, 3, H, W]`` and return ``[T, N, num_classes]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from sj import layer
from sj.model._builders import NeuronClass, flatten_features, load_torchvision_weights, make_neuron

CONNECT_FUNCTIONS = ("ADD", "AND", "IAND")


def sew_function(x: torch.Tensor, y: torch.Tensor, cnf: str) -> torch.Tensor:
    """SEW's connect function ``g(x, y)``: ``'ADD'`` x + y, ``'AND'`` x·y, ``'IAND'`` x·(1 − y)."""
    if cnf == "ADD":
        return x + y
    if cnf == "AND":
        return x * y
    if cnf == "IAND":
        return x * (1.0 - y)
    raise ValueError(f"cnf must be one of {CONNECT_FUNCTIONS}, got {cnf!r}")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> layer.Conv2d:
    """3×3 convolution with padding ``dilation``, no bias."""
    return layer.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                        bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> layer.Conv2d:
    """1×1 convolution, no bias."""
    return layer.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ResidualBlock(nn.Module):
    """A basic (``bottleneck = False``: 3×3, 3×3) or bottleneck (1×1, 3×3, 1×1 ×4) block with modules ``conv{i}``,
    ``bn{i}``, ``sn{i}``, ``downsample`` (and, SEW only, ``downsample_sn``).

    Spiking ResNet (``sew = False``): ``sn_last(bn_last(conv_last(...)) + shortcut(x))``. SEW ResNet (``sew = True``,
    Fang et al. 2021): every branch ends in a neuron, the shortcut is ``x`` or ``downsample_sn(downsample(x))`` and
    the two are joined by :func:`sew_function` — ``g(shortcut, branch)`` in a basic block, ``g(branch, shortcut)`` in
    a bottleneck, as SpikingJelly and the SEW authors' code have it (so ``'IAND'`` differs between the two).
    """

    expansion = 1
    bottleneck = False
    sew = False

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Callable[[int], nn.Module] | None = None, *, cnf: str | None = None,
                 spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__()
        norm_layer = norm_layer or layer.BatchNorm2d
        owner = type(self).__name__
        if self.bottleneck:
            width = int(planes * (base_width / 64.0)) * groups
            convs = [conv1x1(inplanes, width), conv3x3(width, width, stride, groups, dilation),
                     conv1x1(width, planes * self.expansion)]
        else:
            if groups != 1 or base_width != 64:
                raise ValueError(f"{owner} only supports groups=1 and base_width=64")
            if dilation > 1:
                raise NotImplementedError(f"{owner}: dilation > 1 is not supported in a basic block")
            convs = [conv3x3(inplanes, planes, stride), conv3x3(planes, planes)]
        self.depth = len(convs)
        for i, conv in enumerate(convs, 1):
            setattr(self, f"conv{i}", conv)
            setattr(self, f"bn{i}", norm_layer(conv.out_channels))
            setattr(self, f"sn{i}", make_neuron(spiking_neuron, kwargs, owner))
        self.downsample = downsample
        if self.sew:
            if cnf not in CONNECT_FUNCTIONS:
                raise ValueError(f"{owner}: cnf must be one of {CONNECT_FUNCTIONS}, got {cnf!r}")
            if downsample is not None:
                self.downsample_sn = make_neuron(spiking_neuron, kwargs, owner)
        self.stride = stride
        self.cnf = cnf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for i in range(1, self.depth + 1):
            out = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(out))
            if i < self.depth or self.sew:
                out = getattr(self, f"sn{i}")(out)
        if not self.sew:
            identity = x if self.downsample is None else self.downsample(x)
            return getattr(self, f"sn{self.depth}")(out + identity)
        identity = x if self.downsample is None else self.downsample_sn(self.downsample(x))
        return sew_function(out, identity, self.cnf) if self.bottleneck else sew_function(identity, out, self.cnf)

    def extra_repr(self) -> str:
        return f"cnf={self.cnf}" if self.sew else ""


class ResNet(nn.Module):
    """The network around the blocks (see the module docstring); ``cnf`` is given to every block (SEW)."""

    def __init__(self, block: type[ResidualBlock], layers: Sequence[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: Sequence[bool] | None = None,
                 norm_layer: Callable[[int], nn.Module] | None = None, *, cnf: str | None = None,
                 spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__()
        if not (isinstance(block, type) and issubclass(block, ResidualBlock)):
            raise TypeError(f"{type(self).__name__}: block must be a BasicBlock or Bottleneck class, got {block!r}")
        if len(layers) != 4:
            raise ValueError(f"{type(self).__name__}: layers must give the blocks of 4 stages, got {list(layers)}")
        self._norm_layer = norm_layer or layer.BatchNorm2d
        self.inplanes, self.dilation = 64, 1
        dilate = list(replace_stride_with_dilation or [False, False, False])
        if len(dilate) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, got "
                             f"{replace_stride_with_dilation}")
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = layer.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.sn1 = make_neuron(spiking_neuron, kwargs, type(self).__name__)
        self.maxpool = layer.MaxPool2d(kernel_size=3, stride=2, padding=1)
        block_kw = dict(kwargs, cnf=cnf, spiking_neuron=spiking_neuron)
        self.layer1 = self._make_layer(block, 64, layers[0], **block_kw)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dilate[0], **block_kw)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dilate[1], **block_kw)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dilate[2], **block_kw)
        self.avgpool = layer.AdaptiveAvgPool2d((1, 1))
        self.fc = layer.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, ResidualBlock):
                    nn.init.constant_(getattr(m, f"bn{m.depth}").weight, 0)

    def _make_layer(self, block: type[ResidualBlock], planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False, **block_kw: Any) -> nn.Sequential:
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       self._norm_layer(planes * block.expansion))
        blocks_ = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, previous_dilation,
                         self._norm_layer, **block_kw)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            blocks_.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                 dilation=self.dilation, norm_layer=self._norm_layer, **block_kw))
        return nn.Sequential(*blocks_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, 3, H, W]`` → ``[N, num_classes]`` in step mode ``'s'``; ``[T, N, 3, H, W]`` → ``[T, N, classes]``
        in ``'m'``."""
        x = self.maxpool(self.sn1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.fc(flatten_features(x, self.avgpool.step_mode))


# architecture → (bottleneck blocks?, blocks per stage, fixed ResNet arguments), as torchvision's
ARCHITECTURES: dict[str, tuple[bool, list[int], dict[str, int]]] = {
    "resnet18": (False, [2, 2, 2, 2], {}),
    "resnet34": (False, [3, 4, 6, 3], {}),
    "resnet50": (True, [3, 4, 6, 3], {}),
    "resnet101": (True, [3, 4, 23, 3], {}),
    "resnet152": (True, [3, 8, 36, 3], {}),
    "resnext50_32x4d": (True, [3, 4, 6, 3], {"groups": 32, "width_per_group": 4}),
    "resnext101_32x8d": (True, [3, 4, 23, 3], {"groups": 32, "width_per_group": 8}),
    "wide_resnet50_2": (True, [3, 4, 6, 3], {"width_per_group": 128}),
    "wide_resnet101_2": (True, [3, 4, 23, 3], {"width_per_group": 128}),
}


def build(network: type[ResNet], blocks: tuple[type[ResidualBlock], type[ResidualBlock]], arch: str,
          pretrained: bool, progress: bool, **kwargs: Any) -> ResNet:
    """``network`` of architecture ``arch`` with ``blocks`` = (basic, bottleneck) classes; ``pretrained`` loads
    torchvision's ImageNet weights of ``arch``."""
    bottleneck, layers, fixed = ARCHITECTURES[arch]
    model = network(blocks[bottleneck], layers, **{**kwargs, **fixed})
    return load_torchvision_weights(model, arch, progress) if pretrained else model
