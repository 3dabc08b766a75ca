"""The model zoo's catalogue: name → builder, description and reference parameter count.

Reference counts (default arguments: 1000 classes for ResNet/VGG, parameter-free neurons):

- ResNet-18/34/50 and VGG-11/16(_bn): the ``num_params`` torchvision publishes for its ImageNet weights
  (``torchvision.models`` documentation); a spiking network with IF/LIF neurons has exactly those parameters. The SEW
  ResNets have the same (the shortcut neuron has no parameters).
- PLIF nets: counted by hand from the layouts of Fang et al. (2021) / SpikingJelly's ``parametric_lif_net`` (convs
  without bias, BN weight + bias, linear layers, one learnable ``w`` per PLIF neuron module).
- Spikformer-4-384 (CIFAR-10): 9.32 M in Zhou et al. (2023), Table (rounded to 10 k).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from sj.model import plif, resnet, spikformer, vgg


@dataclass(frozen=True)
class ModelInfo:
    """One zoo entry."""

    name: str
    builder: Callable[..., nn.Module]
    description: str
    reference_params: int
    reference: str
    tolerance: int = 0  # the reference may be rounded (Spikformer: 10 k)


_TV = "torchvision.models num_params"
_PLIF = "hand count of the PLIF layout (Fang et al. 2021)"
#: The model catalogue: name → :class:`ModelInfo` (builder, parameters, reference); ``sj model list``.
MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("spiking_resnet18", resnet.spiking_resnet18, "spiking ResNet-18", 11_689_512, _TV),
    ModelInfo("spiking_resnet34", resnet.spiking_resnet34, "spiking ResNet-34", 21_797_672, _TV),
    ModelInfo("spiking_resnet50", resnet.spiking_resnet50, "spiking ResNet-50 (bottleneck)", 25_557_032, _TV),
    ModelInfo("sew_resnet18", resnet.sew_resnet18, "SEW ResNet-18 (cnf ADD|AND|IAND)", 11_689_512, _TV),
    ModelInfo("sew_resnet34", resnet.sew_resnet34, "SEW ResNet-34 (cnf ADD|AND|IAND)", 21_797_672, _TV),
    ModelInfo("sew_resnet50", resnet.sew_resnet50, "SEW ResNet-50 (cnf ADD|AND|IAND)", 25_557_032, _TV),
    ModelInfo("spiking_vgg11", vgg.spiking_vgg11, "spiking VGG-11", 132_863_336, _TV),
    ModelInfo("spiking_vgg11_bn", vgg.spiking_vgg11_bn, "spiking VGG-11 with batch norm", 132_868_840, _TV),
    ModelInfo("spiking_vgg16", vgg.spiking_vgg16, "spiking VGG-16", 138_357_544, _TV),
    ModelInfo("spiking_vgg16_bn", vgg.spiking_vgg16_bn, "spiking VGG-16 with batch norm", 138_365_992, _TV),
    # 1152 + 256 + 147456 + 256 + (6272·2048 + 2048) + (2048·100 + 100) + 4 PLIF w
    ModelInfo("plif_mnist", plif.plif_mnist, "PLIF net, MNIST 1×28×28", 13_201_128, _PLIF),
    ModelInfo("plif_fashion_mnist", plif.plif_fashion_mnist, "PLIF net, Fashion-MNIST 1×28×28", 13_201_128, _PLIF),
    # MNIST + 1152 (2 input channels) + 3932160 (8×8 instead of 7×7 features)
    ModelInfo("plif_nmnist", plif.plif_nmnist, "PLIF net, N-MNIST 2×34×34", 17_134_440, _PLIF),
    # 6912 + 5·589824 + 6·512 + (16384·2048 + 2048) + 204900 + 8 PLIF w
    ModelInfo("plif_cifar10", plif.plif_cifar10, "PLIF net, CIFAR-10 3×32×32", 36_720_492, _PLIF),
    # 2304 + 3·147456 + 4·256 + (8192·512 + 512) + (512·100 + 100) + 6 PLIF w
    ModelInfo("plif_cifar10_dvs", plif.plif_cifar10_dvs, "PLIF net, CIFAR10-DVS 2×128×128", 4_691_818, _PLIF),
    # 2304 + 4·147456 + 5·256 + (2048·512 + 512) + (512·110 + 110) + 7 PLIF w
    ModelInfo("plif_dvs_gesture", plif.plif_dvs_gesture, "PLIF net, DVS128 Gesture 2×128×128", 1_698_933, _PLIF),
    ModelInfo("spikformer", spikformer.spikformer, "compact Spikformer (default 4-384, CIFAR-10)", 9_320_000,
              "Zhou et al. 2023, Spikformer-4-384 on CIFAR-10: 9.32 M", tolerance=5_000),
)}


def list_models() -> list[str]:
    """Names of the zoo models, in catalogue order."""
    return list(MODELS)


def get_model(name: str, **kwargs) -> nn.Module:
    """Build zoo model ``name`` with ``kwargs`` (``neuron=``, ``surrogate=``, ``num_classes=``, ...)."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name].builder(**kwargs)
