"""Small networks shared by the training tests, the DDP worker and the memory benchmark."""

from __future__ import annotations

import torch
from torch import nn

from sj import layer, neuron, surrogate


def conv_snn(channels: int = 4, size: int = 8, classes: int = 3, *, dropout: bool = False,
             neuron_cls=neuron.LIFNode) -> nn.Sequential:
    """Conv → LIF → MaxPool → Conv → LIF → MaxPool → Flatten → Linear, all in 'm' (input ``[T, N, 1, size, size]``).

    Weights are scaled up so that both spiking layers fire at these small sizes.
    """
    def spiking() -> nn.Module:
        return neuron_cls(v_threshold=0.5, surrogate_function=surrogate.ATan(), step_mode="m")

    mods = [layer.Conv2d(1, channels, 3, padding=1, step_mode="m"), spiking(), layer.MaxPool2d(2, step_mode="m"),
            layer.Conv2d(channels, 2 * channels, 3, padding=1, step_mode="m"), spiking(),
            layer.MaxPool2d(2, step_mode="m"), layer.Flatten(step_mode="m")]
    if dropout:
        mods.append(layer.Dropout(0.3, step_mode="m"))
    mods.append(layer.Linear(2 * channels * (size // 4) ** 2, classes, step_mode="m"))
    net = nn.Sequential(*mods)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(3.0)
    return net


def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the time-averaged output ``[T, N, classes]``."""
    return nn.functional.cross_entropy(out.mean(0), target)
