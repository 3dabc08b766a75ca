"""The MNIST CNN of SpikingJelly's ann2snn tutorial: three conv(3×3)-BN-ReLU-avgpool(2) stages of 32 channels and a
linear classifier; ``[N, 1, 28, 28]`` → ``[N, 10]``."""

from __future__ import annotations

import torch
from torch import nn


class CNN(nn.Module):
    """``network``: conv-BN-ReLU-avgpool ×3 (28 → 13 → 5 → 1 pixels), flatten, ``Linear(32, 10)``."""

    def __init__(self) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        for cin in (1, 32, 32):
            stages += [nn.Conv2d(cin, 32, 3, 1), nn.BatchNorm2d(32), nn.ReLU(), nn.AvgPool2d(2, 2)]
        self.network = nn.Sequential(*stages, nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)
