"""Spiking VGGs for online training through time (OTTT, Xiao et al. 2022; SpikingJelly's
``model.spiking_vggws_ottt``), with optional scaled weight standardisation (``WSConv2d``/``WSLinear``).

The network runs one time step per call (step mode ``'s'``, input ``[N, 3, H, W]`` → ``[N, num_classes]``): its
default neuron, :class:`sj.neuron.OTTTLIFNode`, returns ``[spike, trace]`` in training, and the containers
(:class:`sj.layer.OTTTSequential`) take the forward value from the spikes and the weight gradient from the traces.
In evaluation the neurons return spikes and the network is a plain spiking VGG. A loop over the T steps with a loss
and ``backward`` per step (or :func:`sj.learning.online_learning`'s helpers) trains it with memory constant in T.

Layouts: ``features`` (3×3 convolutions, each followed by the neuron, then ``Scale(2.74)`` when weight-standardised
and ``Dropout(drop_rate)`` when ``drop_rate > 0``; ``"M"`` a 2×2 max pooling, ``"A"`` a 2×2 average pooling) and
``classifier``: light (adaptive average pooling to ``fc_hw × fc_hw``, flatten, one ``Linear``) or VGG's three
linear layers after 7×7 pooling. Module indices equal SpikingJelly's, so its checkpoints load with ``strict=True``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sj import layer, neuron
from sj.model import spiking_vgg
from sj.model._builders import NeuronClass, make_neuron

__all__ = ["OTTTSpikingVGG", "ottt_spiking_vgg11", "ottt_spiking_vgg11_ws", "ottt_spiking_vgg13",
           "ottt_spiking_vgg13_ws", "ottt_spiking_vgg16", "ottt_spiking_vgg16_ws", "ottt_spiking_vgg19",
           "ottt_spiking_vgg19_ws", "ottt_spiking_vggws"]

# The constant gain OTTT's networks apply after the neuron of every weight-standardised layer: standardised weights
# shrink the pre-activations, and this restores their scale (the value of Xiao et al.'s reference implementation).
WS_SCALE = 2.74

# output channels of each 3×3 convolution; "M" 2×2 max pooling, "A" 2×2 average pooling: the spiking VGGs' "A"-"E"
# (sj.model.spiking_vgg.cfgs) and "S", OTTT's small VGG.
cfgs: dict[str, list[int | str]] = {**spiking_vgg.cfgs, "S": [64, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512]}


class Scale(nn.Module):
    """Multiply by the constant ``scale`` (no parameters: in an OTTT container it scales spike and trace alike)."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


class OTTTSpikingVGG(nn.Module):
    """A spiking VGG for OTTT (see the module docstring for the layout).

    Args:
        cfg: channels and pooling of ``features`` (a list of :data:`cfgs`); the last convolution must have 512
            channels, as the classifier expects.
        weight_standardization: :class:`sj.layer.WSConv2d` (and ``WSLinear`` in the large classifier) followed by
            ``Scale(2.74)`` after each neuron. Default ``True``.
        num_classes: classifier outputs. Default 1000.
        init_weights: Kaiming normal convolutions (fan-out), N(0, 0.01) linear layers, zero biases. Default ``True``.
        spiking_neuron: the neuron class (e.g. :class:`sj.neuron.OTTTLIFNode`); ``kwargs`` go to every neuron.
        light_classifier: the one-layer classifier (default) instead of VGG's three layers.
        drop_rate: a ``Dropout(drop_rate)`` after every convolution's neuron when positive. Default 0.
        fc_hw: side of the light classifier's pooled features (``512·fc_hw²`` inputs). Default 1.
    """

    def __init__(self, cfg: list[int | str], weight_standardization: bool = True, num_classes: int = 1000,
                 init_weights: bool = True, spiking_neuron: NeuronClass | None = None, light_classifier: bool = True,
                 drop_rate: float = 0.0, *, fc_hw: int = 1, **kwargs: Any) -> None:
        super().__init__()
        channels = [v for v in cfg if v not in ("M", "A")]
        if not channels or channels[-1] != 512:
            raise ValueError(f"OTTTSpikingVGG: the last convolution of cfg must have 512 channels, got cfg={cfg!r}")
        if int(fc_hw) < 1:
            raise ValueError(f"OTTTSpikingVGG: fc_hw must be a positive integer, got {fc_hw!r}")
        self.fc_hw = int(fc_hw)
        self.neuron = spiking_neuron
        self.features = self.make_layers(cfg, weight_standardization, spiking_neuron, drop_rate, **kwargs)
        if light_classifier:
            self.classifier = layer.OTTTSequential(
                layer.AdaptiveAvgPool2d((self.fc_hw, self.fc_hw)), layer.Flatten(1),
                layer.Linear(512 * self.fc_hw ** 2, num_classes))
        else:
            linear = layer.WSLinear if weight_standardization else layer.Linear
            scale = WS_SCALE if weight_standardization else 1.0
            hidden: list[nn.Module] = []
            for n_in in (512 * 7 * 7, 4096):
                hidden += [linear(n_in, 4096), make_neuron(spiking_neuron, kwargs, "OTTTSpikingVGG"), Scale(scale),
                           layer.Dropout()]
            self.classifier = layer.OTTTSequential(layer.AdaptiveAvgPool2d((7, 7)), layer.Flatten(1), *hidden,
                                                   layer.Linear(4096, num_classes))
        if init_weights:
            self._initialize_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One time step: ``[N, 3, H, W]`` → ``[N, num_classes]``."""
        return self.classifier(self.features(x))

    def _initialize_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
            else:
                continue
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)

    @staticmethod
    def make_layers(cfg: list[int | str], weight_standardization: bool = True, neuron: NeuronClass | None = None,
                    drop_rate: float = 0.0, **kwargs: Any) -> layer.OTTTSequential:
        """The feature extractor of ``cfg`` (3 input channels); ``kwargs`` go to every neuron."""
        conv = layer.WSConv2d if weight_standardization else layer.Conv2d
        layers: list[nn.Module] = []
        in_channels = 3
        for v in cfg:
            if v == "M":
                layers.append(layer.MaxPool2d(kernel_size=2, stride=2))
            elif v == "A":
                layers.append(layer.AvgPool2d(kernel_size=2, stride=2))
            else:
                layers += [conv(in_channels, int(v), kernel_size=3, padding=1),
                           make_neuron(neuron, kwargs, "OTTTSpikingVGG")]
                if weight_standardization:
                    layers.append(Scale(WS_SCALE))
                if drop_rate > 0.0:
                    layers.append(layer.Dropout(drop_rate))
                in_channels = int(v)
        return layer.OTTTSequential(*layers)


def _ottt_vgg(cfg: str, weight_standardization: bool, light_classifier: bool, spiking_neuron: NeuronClass | None,
              **kwargs: Any) -> OTTTSpikingVGG:
    return OTTTSpikingVGG(cfgs[cfg], weight_standardization, spiking_neuron=spiking_neuron,
                          light_classifier=light_classifier, **kwargs)


def ottt_spiking_vggws(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """OTTT's small weight-standardised VGG (configuration "S", light classifier). ``kwargs``: the arguments of
    :class:`OTTTSpikingVGG` (``num_classes``, ``drop_rate``, ``fc_hw``, ...) and of the neuron."""
    return _ottt_vgg("S", True, True, spiking_neuron, **kwargs)


def ottt_spiking_vgg11(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """VGG-11 for OTTT (configuration "A", VGG's classifier, no weight standardisation)."""
    return _ottt_vgg("A", False, False, spiking_neuron, **kwargs)


def ottt_spiking_vgg11_ws(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """Weight-standardised VGG-11 for OTTT (configuration "A", VGG's classifier)."""
    return _ottt_vgg("A", True, False, spiking_neuron, **kwargs)


def ottt_spiking_vgg13(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """VGG-13 for OTTT (configuration "B", VGG's classifier, no weight standardisation)."""
    return _ottt_vgg("B", False, False, spiking_neuron, **kwargs)


def ottt_spiking_vgg13_ws(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """Weight-standardised VGG-13 for OTTT (configuration "B", VGG's classifier)."""
    return _ottt_vgg("B", True, False, spiking_neuron, **kwargs)


def ottt_spiking_vgg16(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """VGG-16 for OTTT (configuration "D", VGG's classifier, no weight standardisation)."""
    return _ottt_vgg("D", False, False, spiking_neuron, **kwargs)


def ottt_spiking_vgg16_ws(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """Weight-standardised VGG-16 for OTTT (configuration "D", VGG's classifier)."""
    return _ottt_vgg("D", True, False, spiking_neuron, **kwargs)


def ottt_spiking_vgg19(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """VGG-19 for OTTT (configuration "E", VGG's classifier, no weight standardisation)."""
    return _ottt_vgg("E", False, False, spiking_neuron, **kwargs)


def ottt_spiking_vgg19_ws(spiking_neuron: NeuronClass = neuron.OTTTLIFNode, **kwargs: Any) -> OTTTSpikingVGG:
    """Weight-standardised VGG-19 for OTTT (configuration "E", VGG's classifier)."""
    return _ottt_vgg("E", True, False, spiking_neuron, **kwargs)
