"""The networks of Fang et al. 2021, "Incorporating Learnable Membrane Time Constant to Enhance Learning of Spiking
Neural Networks" (SpikingJelly's ``model.parametric_lif_net``), with SpikingJelly's module indices
(``conv_fc.{i}``) so its checkpoints load strictly.

Each is ``{conv(3×3, no bias) → BN → neuron → maxpool(2)}`` stages, then flatten → dropout → linear → neuron →
dropout → linear (10 per class) → neuron → voting over groups of 10. ``spiking_neuron`` is the neuron class (the
paper's is :class:`sj.neuron.ParametricLIFNode`); ``kwargs`` go to every neuron. Built in step mode ``'s'``
(``[N, C, H, W]`` → ``[N, classes]``); ``sj.functional.set_step_mode(net, 'm')`` for ``[T, N, C, H, W]``.

===================  =========  ========  ========================  ================
class                input      channels  stages × convs per stage  hidden
===================  =========  ========  ========================  ================
``MNISTNet``         1×28×28    128       2 × 1                     2048
``FashionMNISTNet``  1×28×28    128       2 × 1                     2048
``NMNISTNet``        2×34×34    128       2 × 1                     2048
``CIFAR10Net``       3×32×32    256       2 × 3                     2048
``CIFAR10DVSNet``    2×128×128  128       4 × 1                     512
``DVSGestureNet``    2×128×128  128       5 × 1                     512 (11 classes)
===================  =========  ========  ========================  ================
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sj import layer
from sj.model._builders import NeuronClass, make_neuron

__all__ = ["MNISTNet", "FashionMNISTNet", "NMNISTNet", "CIFAR10Net", "CIFAR10DVSNet", "DVSGestureNet"]


def conv_fc(in_channels: int, channels: int, stages: int, convs_per_stage: int, spatial_out: int, hidden: int,
            classes: int, spiking_neuron: NeuronClass | None, kwargs: dict[str, Any], owner: str) -> nn.Sequential:
    """The layer sequence of one network (see the module docstring); ``spatial_out`` is the side of the last map."""
    def sn() -> nn.Module:
        return make_neuron(spiking_neuron, kwargs, owner)

    mods: list[nn.Module] = []
    cin = in_channels
    for _ in range(stages):
        for _ in range(convs_per_stage):
            mods += [layer.Conv2d(cin, channels, kernel_size=3, padding=1, bias=False), layer.BatchNorm2d(channels),
                     sn()]
            cin = channels
        mods.append(layer.MaxPool2d(2, 2))
    mods += [layer.Flatten(), layer.Dropout(0.5), layer.Linear(channels * spatial_out ** 2, hidden), sn(),
             layer.Dropout(0.5), layer.Linear(hidden, classes * 10), sn(), layer.VotingLayer(10)]
    return nn.Sequential(*mods)


class _ConvFCNet(nn.Module):
    """``forward(x) = conv_fc(x)``; subclasses fix the layout."""

    layout: tuple[int, int, int, int, int, int]  # in_channels, stages, convs per stage, spatial out, hidden, classes

    def __init__(self, channels: int, spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__()
        cin, stages, per_stage, spatial, hidden, classes = self.layout
        self.conv_fc = conv_fc(cin, channels, stages, per_stage, spatial, hidden, classes, spiking_neuron, kwargs,
                               type(self).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_fc(x)


class MNISTNet(_ConvFCNet):
    """MNIST, ``[N, 1, 28, 28]`` → 10 class scores (firing rates of the voting groups)."""

    layout = (1, 2, 1, 7, 2048, 10)

    def __init__(self, channels: int = 128, spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__(channels, spiking_neuron, **kwargs)


class FashionMNISTNet(MNISTNet):
    """Fashion-MNIST, ``[N, 1, 28, 28]`` (the MNIST layout)."""


class NMNISTNet(MNISTNet):
    """N-MNIST, ``[N, 2, 34, 34]``."""

    layout = (2, 2, 1, 8, 2048, 10)


class CIFAR10Net(_ConvFCNet):
    """CIFAR-10, ``[N, 3, 32, 32]``: two stages of three convolutions."""

    layout = (3, 2, 3, 8, 2048, 10)

    def __init__(self, channels: int = 256, spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__(channels, spiking_neuron, **kwargs)


class CIFAR10DVSNet(_ConvFCNet):
    """CIFAR10-DVS, ``[N, 2, 128, 128]``."""

    layout = (2, 4, 1, 8, 512, 10)

    def __init__(self, channels: int = 128, spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__(channels, spiking_neuron, **kwargs)


class DVSGestureNet(_ConvFCNet):
    """DVS128 Gesture, ``[N, 2, 128, 128]`` → 11 classes."""

    layout = (2, 5, 1, 4, 512, 11)

    def __init__(self, channels: int = 128, spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__(channels, spiking_neuron, **kwargs)
