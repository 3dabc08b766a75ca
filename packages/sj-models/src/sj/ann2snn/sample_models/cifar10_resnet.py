"""The CIFAR-10 ResNets of SpikingJelly's ann2snn examples (the common "kuangliu" layout): a 3×3 stem without max
pooling, four stages of 64-512 channels, 4×4 average pooling and a linear classifier; ``[N, 3, 32, 32]`` →
``[N, num_classes]``. Every ReLU is its own module, so rate-coded conversion gives each its own neurons."""

from __future__ import annotations

import torch
from torch import nn


def _shortcut(in_planes: int, out_planes: int, stride: int) -> nn.Sequential:
    if stride == 1 and in_planes == out_planes:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_planes))


class BasicBlock(nn.Module):
    """``relu2(bn2(conv2(relu1(bn1(conv1(x))))) + shortcut(x))``."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes, stride)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1×1, 3×3 (stride), 1×1 (×4 channels) conv-BN stages; ``relu3(... + shortcut(x))``."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, self.expansion * planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(self.expansion * planes)
        self.shortcut = _shortcut(in_planes, self.expansion * planes, stride)
        self.relu1, self.relu2, self.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))))
        return self.relu3(self.bn3(self.conv3(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """``ResNet(block, num_blocks, num_classes=10)`` for 32×32 inputs."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], num_blocks: list[int],
                 num_classes: int = 10) -> None:
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], 1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], 2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], 2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], 2)
        self.avg_pool = nn.AvgPool2d(4)
        self.linear = nn.Linear(512 * block.expansion, num_classes)
        self.flatten = nn.Flatten()
        self.relu = nn.ReLU()

    def _make_layer(self, block: type[BasicBlock] | type[Bottleneck], planes: int, num_blocks: int,
                    stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (num_blocks - 1):
            layers.append(block(self.in_planes, planes, s))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(self.flatten(self.avg_pool(out)))


def ResNet18() -> ResNet:
    """CIFAR-10 ResNet-18."""
    return ResNet(BasicBlock, [2, 2, 2, 2])


def ResNet34() -> ResNet:
    """CIFAR-10 ResNet-34."""
    return ResNet(BasicBlock, [3, 4, 6, 3])


def ResNet50() -> ResNet:
    """CIFAR-10 ResNet-50."""
    return ResNet(Bottleneck, [3, 4, 6, 3])


def ResNet101() -> ResNet:
    """CIFAR-10 ResNet-101."""
    return ResNet(Bottleneck, [3, 4, 23, 3])


def ResNet152() -> ResNet:
    """CIFAR-10 ResNet-152."""
    return ResNet(Bottleneck, [3, 8, 36, 3])
