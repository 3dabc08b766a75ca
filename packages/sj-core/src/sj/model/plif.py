"""The PLIF reference networks of Fang et al., 2021, "Incorporating Learnable Membrane Time Constant to Enhance
Learning of Spiking Neural Networks" (layouts as SpikingJelly's ``parametric_lif_net``).

Each is ``{conv(3×3, no bias) → BN → neuron → maxpool(2)}`` stages, then dropout → linear → neuron → dropout → linear
(10 × the classes) → neuron → voting over groups of 10. Input ``[T, N, C, H, W]``, output ``[T, N, 10 or 11]`` (firing
rates of the voting groups at every step).

======================  =========  ========  ===============================================
model                   input      channels  stages (conv, conv/stage), hidden units
======================  =========  ========  ===============================================
``plif_mnist``          1×28×28    128       2 × 1, 2048
``plif_fashion_mnist``  1×28×28    128       2 × 1, 2048
``plif_nmnist``         2×34×34    128       2 × 1, 2048
``plif_cifar10``        3×32×32    256       2 × 3, 2048
``plif_cifar10_dvs``    2×128×128  128       4 × 1, 512
``plif_dvs_gesture``    2×128×128  128       5 × 1, 512 (11 classes)
======================  =========  ========  ===============================================
"""

from __future__ import annotations

import torch
from torch import nn

from sj import layer
from sj import surrogate as sg
from sj.model.common import NeuronArg, NeuronFactory, SurrogateArg, multi_step
from sj.neuron import ParametricLIFNode


class PLIFNet(nn.Module):
    """A PLIF reference network (see the module docstring).

    Args:
        in_channels: input channels.
        channels: channels of every convolution.
        stages: number of conv stages (each ends with a 2×2 max pooling).
        convs_per_stage: convolutions in each stage.
        spatial_out: height (= width) of the feature map after the last stage.
        hidden: hidden units of the classifier.
        num_classes: classes (the last linear layer has 10 × num_classes outputs).
        neuron, surrogate, neuron_kwargs: see :class:`~sj.model.common.NeuronFactory` (default
            :class:`~sj.neuron.ParametricLIFNode` with the ATan surrogate, as the paper).
        dropout: dropout probability (masks shared over time). Default 0.5.
    """

    def __init__(self, in_channels: int, channels: int, stages: int, convs_per_stage: int, spatial_out: int,
                 hidden: int, num_classes: int = 10, neuron: NeuronArg = ParametricLIFNode,
                 surrogate: SurrogateArg = sg.ATan, dropout: float = 0.5, **neuron_kwargs) -> None:
        super().__init__()
        sn = NeuronFactory(neuron, surrogate, **neuron_kwargs)
        mods: list[nn.Module] = []
        cin = in_channels
        for _ in range(stages):
            for _ in range(convs_per_stage):
                mods += [layer.Conv2d(cin, channels, 3, padding=1, bias=False), layer.BatchNorm2d(channels), sn()]
                cin = channels
            mods.append(layer.MaxPool2d(2, 2))
        mods += [layer.Flatten(), layer.Dropout(dropout), layer.Linear(channels * spatial_out ** 2, hidden), sn(),
                 layer.Dropout(dropout), layer.Linear(hidden, num_classes * 10), sn(), layer.VotingLayer(10)]
        self.conv_fc = nn.Sequential(*mods)
        multi_step(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_fc(x)


def plif_mnist(channels: int = 128, **kwargs) -> PLIFNet:
    """PLIF net for MNIST (``[T, N, 1, 28, 28]``)."""
    return PLIFNet(1, channels, 2, 1, 7, 2048, **kwargs)


def plif_fashion_mnist(channels: int = 128, **kwargs) -> PLIFNet:
    """PLIF net for Fashion-MNIST (``[T, N, 1, 28, 28]``; the MNIST layout)."""
    return PLIFNet(1, channels, 2, 1, 7, 2048, **kwargs)


def plif_nmnist(channels: int = 128, **kwargs) -> PLIFNet:
    """PLIF net for N-MNIST (``[T, N, 2, 34, 34]``)."""
    return PLIFNet(2, channels, 2, 1, 8, 2048, **kwargs)


def plif_cifar10(channels: int = 256, **kwargs) -> PLIFNet:
    """PLIF net for CIFAR-10 (``[T, N, 3, 32, 32]``)."""
    return PLIFNet(3, channels, 2, 3, 8, 2048, **kwargs)


def plif_cifar10_dvs(channels: int = 128, **kwargs) -> PLIFNet:
    """PLIF net for CIFAR10-DVS (``[T, N, 2, 128, 128]``)."""
    return PLIFNet(2, channels, 4, 1, 8, 512, **kwargs)


def plif_dvs_gesture(channels: int = 128, **kwargs) -> PLIFNet:
    """PLIF net for DVS128 Gesture (``[T, N, 2, 128, 128]``, 11 classes)."""
    kwargs.setdefault("num_classes", 11)
    return PLIFNet(2, channels, 5, 1, 4, 512, **kwargs)
