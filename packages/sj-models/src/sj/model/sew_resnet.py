"""SEW ResNets (Fang et al. 2021, "Deep Residual Learning in Spiking Neural Networks"; SpikingJelly's
``model.sew_resnet``): every residual branch ends in a neuron and joins the shortcut by the connect function
``cnf`` — ``'ADD'``, ``'AND'`` or ``'IAND'`` (:func:`sew_function`). See :mod:`sj.model._resnet` for the layout.

Every builder takes SpikingJelly's keywords: ``pretrained`` (torchvision's ImageNet weights, from the torch hub
cache), ``progress``, ``cnf`` (required), ``spiking_neuron`` (a neuron class), ``num_classes``, ... and passes every
other keyword (``surrogate_function=``, ``detach_reset=``, ...) to each neuron.

:class:`SEWResNet34Config` is SpikingJelly's serialisable configuration of SEW ResNet-34 (see
:mod:`sj.model._vision_config`); ``build_model()`` builds it on one process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sj.functional import set_step_mode
from sj.model._builders import NeuronClass
from sj.model._resnet import (  # conv1x1, conv3x3, sew_function: at SpikingJelly's path
    ResidualBlock,
    ResNet,
    build,
    conv1x1,  # noqa: F401
    conv3x3,  # noqa: F401
    sew_function,  # noqa: F401
)
from sj.model._vision_config import ModelConfig, NeuronConfig, resolve_neuron_config
from sj.neuron import LIFNode

__all__ = ["SEWResNet", "SEWResNet34Config", "sew_resnet18", "sew_resnet34", "sew_resnet50", "sew_resnet101",
           "sew_resnet152", "sew_resnext50_32x4d", "sew_resnext101_32x8d", "sew_wide_resnet50_2",
           "sew_wide_resnet101_2"]


class BasicBlock(ResidualBlock):
    """SEW basic block: ``g(shortcut, sn2(bn2(conv2(sn1(bn1(conv1(x)))))))`` with ``g = sew_function(·, ·, cnf)``."""

    sew = True


class Bottleneck(ResidualBlock):
    """SEW bottleneck: ``g(sn3(bn3(conv3(...))), shortcut)`` with ``g = sew_function(·, ·, cnf)``."""

    expansion = 4
    bottleneck = True
    sew = True


class SEWResNet(ResNet):
    """A SEW ResNet: ``SEWResNet(block, layers, num_classes=1000, zero_init_residual=False, groups=1,
    width_per_group=64, replace_stride_with_dilation=None, norm_layer=None, cnf=None, spiking_neuron=None,
    **kwargs)``; ``cnf`` is one of ``'ADD'``, ``'AND'``, ``'IAND'``; ``kwargs`` go to every neuron."""

    def __init__(self, block: type[ResidualBlock], layers: list[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: list[bool] | None = None, norm_layer: Any = None,
                 cnf: str | None = None, spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> None:
        super().__init__(block, layers, num_classes, zero_init_residual, groups, width_per_group,
                         replace_stride_with_dilation, norm_layer, cnf=cnf, spiking_neuron=spiking_neuron, **kwargs)


def _sew_resnet(arch: str, pretrained: bool, progress: bool, cnf: str | None, spiking_neuron: NeuronClass | None,
                **kwargs: Any) -> SEWResNet:
    return build(SEWResNet, (BasicBlock, Bottleneck), arch, pretrained, progress, cnf=cnf,
                 spiking_neuron=spiking_neuron, **kwargs)


def sew_resnet18(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                 spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW ResNet-18 with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("resnet18", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_resnet34(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                 spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW ResNet-34 with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("resnet34", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_resnet50(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                 spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW ResNet-50 with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("resnet50", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_resnet101(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                  spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW ResNet-101 with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("resnet101", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_resnet152(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                  spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW ResNet-152 with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("resnet152", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_resnext50_32x4d(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                        spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW ResNeXt-50 32x4d with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("resnext50_32x4d", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_resnext101_32x8d(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                         spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW ResNeXt-101 32x8d with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("resnext101_32x8d", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_wide_resnet50_2(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                        spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW Wide ResNet-50-2 with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("wide_resnet50_2", pretrained, progress, cnf, spiking_neuron, **kwargs)


def sew_wide_resnet101_2(pretrained: bool = False, progress: bool = True, cnf: str | None = None,
                         spiking_neuron: NeuronClass | None = None, **kwargs: Any) -> SEWResNet:
    """SEW Wide ResNet-101-2 with connect function ``cnf`` (see the module docstring for the arguments)."""
    return _sew_resnet("wide_resnet101_2", pretrained, progress, cnf, spiking_neuron, **kwargs)


@dataclass(frozen=True)
class SEWResNet34Config(ModelConfig):
    """SEW ResNet-34 for ImageNet-sized input (:func:`sew_resnet34`) as SpikingJelly's serialisable configuration.

    Args:
        time_steps: steps ``T`` (positive). Default 4.
        num_classes: classes (positive). Default 1000.
        step_mode: ``'s'`` or ``'m'``. Default ``'m'``.
        image_size: the input's side (positive). Default 224. The model adapts to any size (SpikingJelly uses it
            only for the shapes of its pipeline stages and memory optimisation).
        in_channels: must be 3 (the default).
        connection: the connect function ``cnf``, ``'ADD'`` (default), ``'AND'`` or ``'IAND'``.
        tau, detach_reset: the LIF neurons' when ``neuron_config`` is ``None``; ``tau`` must then exceed 1. Defaults
            2.0, True.
        neuron_config: a :class:`NeuronConfig` for every neuron instead of that LIF. Default ``None``.

    Raises ``ValueError`` for a bad value (SpikingJelly's messages).
    """

    image_size: int = 224
    in_channels: int = 3
    connection: str = "ADD"
    tau: float = 2.0
    detach_reset: bool = True
    neuron_config: NeuronConfig | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size <= 0:
            raise ValueError("image_size must be positive.")
        if self.in_channels != 3:
            raise ValueError("The built-in SEW-ResNet34 requires in_channels=3.")
        if self.connection not in {"ADD", "AND", "IAND"}:
            raise ValueError("connection must be 'ADD', 'AND', or 'IAND'.")
        if self.neuron_config is None and self.tau <= 1.0:
            raise ValueError("tau must be greater than 1.0.")

    def build_model(self) -> SEWResNet:
        """``sew_resnet34(cnf=connection, spiking_neuron=..., num_classes=...)`` in ``step_mode`` on one process, its
        neurons ``LIFNode(tau=tau, detach_reset=detach_reset)`` or ``neuron_config``'s (SpikingJelly then shards the
        basic blocks' channels, which sj does not)."""
        spiking_neuron, kwargs = resolve_neuron_config(self.neuron_config)
        if spiking_neuron is None:
            spiking_neuron, kwargs = LIFNode, {"tau": self.tau, "detach_reset": self.detach_reset}
        model = sew_resnet34(cnf=self.connection, spiking_neuron=spiking_neuron, num_classes=self.num_classes,
                             **kwargs)
        set_step_mode(model, self.step_mode)
        return model
