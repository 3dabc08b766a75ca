"""The zoo's catalogue (``sj model list``): every builder at its SpikingJelly path, with a reference parameter count.

Reference counts are for the default arguments with parameter-free neurons (IF, LIF), except the PLIF networks,
counted with :class:`~sj.neuron.ParametricLIFNode` (one learnable ``w`` per neuron module):

- ResNets and VGGs (1000 classes): the ``num_params`` torchvision publishes for its ImageNet weights
  (``torchvision.models`` documentation); the spiking networks have exactly torchvision's parameters, and SEW ResNets
  too (the shortcut neuron has none).
- PLIF networks: counted by hand from the layouts of Fang et al. 2021 (see :mod:`sj.model.parametric_lif_net`).
- Transformers (LIF neurons by default): the papers' counts where they give the configuration (Spike-driven
  Transformer-8-384: 16.81 M; QKFormer-10-384: 16.47 M; to the unit: SpikingJelly 2.0's builders, which the parity
  tests compare against); otherwise SpikingJelly 2.0's builders (Spikformer-4-384 on CIFAR-10 has 9.31 M there, the
  paper reports 9.32 M).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class ModelInfo:
    """One zoo entry: ``sj.model.<module>.<name>`` built with ``defaults`` has ``reference_params`` parameters."""

    name: str
    module: str
    description: str
    reference_params: int
    reference: str
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def builder(self) -> Callable[..., nn.Module]:
        return getattr(importlib.import_module(f"sj.model.{self.module}"), self.name)


_TV = "torchvision.models num_params"
_PLIF = "hand count of the PLIF layout (Fang et al. 2021)"
_SJ2 = "SpikingJelly 2.0.0's builder"
_IF = {"spiking_neuron": "IFNode"}
_PLIF_NEURON = {"spiking_neuron": "ParametricLIFNode"}
_RESNETS = (("resnet18", "ResNet-18", 11_689_512), ("resnet34", "ResNet-34", 21_797_672),
            ("resnet50", "ResNet-50", 25_557_032), ("resnet101", "ResNet-101", 44_549_160),
            ("resnet152", "ResNet-152", 60_192_808), ("resnext50_32x4d", "ResNeXt-50 32x4d", 25_028_904),
            ("resnext101_32x8d", "ResNeXt-101 32x8d", 88_791_336),
            ("wide_resnet50_2", "Wide ResNet-50-2", 68_883_240),
            ("wide_resnet101_2", "Wide ResNet-101-2", 126_886_696))
_VGGS = (("vgg11", 132_863_336), ("vgg11_bn", 132_868_840), ("vgg13", 133_047_848), ("vgg13_bn", 133_053_736),
         ("vgg16", 138_357_544), ("vgg16_bn", 138_365_992), ("vgg19", 143_667_240), ("vgg19_bn", 143_678_248))
# OTTT VGGs: torchvision's VGG layers; weight standardisation adds one gain per output unit of every convolution
# (2752, 2944, 4224, 5504 channels for VGG-11/13/16/19) and of the two hidden linear layers (2·4096)
_OTTT_VGGS = (("vgg11", 132_863_336, 2_752), ("vgg13", 133_047_848, 2_944), ("vgg16", 138_357_544, 4_224),
              ("vgg19", 143_667_240, 5_504))
# 1152 + 256 + 147456 + 256 + (6272·2048 + 2048) + (2048·100 + 100) + 4 PLIF w
_MNIST = 13_201_128

#: The catalogue: builder name → :class:`ModelInfo` (module, description, reference parameter count and its
#: source, default arguments), in the order ``sj model list`` prints it.
MODELS: dict[str, ModelInfo] = {m.name: m for m in (
    *(ModelInfo(f"spiking_{a}", "spiking_resnet", f"spiking {d}", n, _TV, _IF) for a, d, n in _RESNETS),
    *(ModelInfo(f"sew_{a}", "sew_resnet", f"SEW {d} (cnf ADD|AND|IAND)", n, _TV, {**_IF, "cnf": "ADD"})
      for a, d, n in _RESNETS),
    *(ModelInfo(f"spiking_{a}", "spiking_vgg", f"spiking VGG-{a[3:].replace('_bn', ' with batch norm')}", n, _TV,
                _IF) for a, n in _VGGS),
    *(ModelInfo(f"ottt_spiking_{a}", "spiking_vggws_ottt", f"VGG-{a[3:]} for OTTT (OTTTLIFNode)", n, _TV)
      for a, n, _ in _OTTT_VGGS),
    *(ModelInfo(f"ottt_spiking_{a}_ws", "spiking_vggws_ottt", f"weight-standardised VGG-{a[3:]} for OTTT",
                n + gains + 2 * 4096, f"{_TV} + WS gains") for a, n, gains in _OTTT_VGGS),
    # convolutions 3→64→128→256→256→512×4 (9_220_480) with a gain per channel (2752), Linear(512, 1000) (513_000)
    ModelInfo("ottt_spiking_vggws", "spiking_vggws_ottt", "OTTT's small weight-standardised VGG, light classifier",
              9_736_232, "hand count"),
    ModelInfo("MNISTNet", "parametric_lif_net", "PLIF net, MNIST 1×28×28", _MNIST, _PLIF, _PLIF_NEURON),
    ModelInfo("FashionMNISTNet", "parametric_lif_net", "PLIF net, Fashion-MNIST 1×28×28", _MNIST, _PLIF,
              _PLIF_NEURON),
    # MNIST + 1152 (2 input channels) + 3932160 (8×8 instead of 7×7 features)
    ModelInfo("NMNISTNet", "parametric_lif_net", "PLIF net, N-MNIST 2×34×34", 17_134_440, _PLIF, _PLIF_NEURON),
    # 6912 + 5·589824 + 6·512 + (16384·2048 + 2048) + 204900 + 8 PLIF w
    ModelInfo("CIFAR10Net", "parametric_lif_net", "PLIF net, CIFAR-10 3×32×32", 36_720_492, _PLIF, _PLIF_NEURON),
    # 2304 + 3·147456 + 4·256 + (8192·512 + 512) + (512·100 + 100) + 6 PLIF w
    ModelInfo("CIFAR10DVSNet", "parametric_lif_net", "PLIF net, CIFAR10-DVS 2×128×128", 4_691_818, _PLIF,
              _PLIF_NEURON),
    # 2304 + 4·147456 + 5·256 + (2048·512 + 512) + (512·110 + 110) + 7 PLIF w
    ModelInfo("DVSGestureNet", "parametric_lif_net", "PLIF net, DVS128 Gesture 2×128×128", 1_698_933, _PLIF,
              _PLIF_NEURON),
    ModelInfo("spikformer_ti", "spikformer", "Spikformer-4-256, 224×224, 16×16 patches", 4_400_392, _SJ2),
    ModelInfo("spikformer_s", "spikformer", "Spikformer-6-384, 224×224, 16×16 patches", 13_244_824, _SJ2),
    ModelInfo("spikformer_cifar10", "spikformer", "Spikformer-4-384, CIFAR-10 32×32, 4×4 patches", 9_310_906,
              f"{_SJ2} (9.32 M in Zhou et al. 2023)"),
    ModelInfo("sdt_8_384", "spike_driven_transformer", "Spike-driven Transformer-8-384", 16_816_744,
              "Yao et al. 2023: 16.81 M"),
    ModelInfo("qkformer_10_384", "qkformer", "QKFormer-10-384", 16_472_584, "Zhou et al. 2024: 16.47 M"),
    ModelInfo("maxformer_10_384", "maxformer", "Max-Former-10-384", 16_236_616, _SJ2),
    ModelInfo("maxformer_cifar", "maxformer", "Max-Former for CIFAR (1, 1, 2 blocks)", 6_602_932, _SJ2),
    ModelInfo("ms_resnet18", "ms_resnet", "MS-ResNet-18", 11_693_736, "Hu et al. 2024: 11.69 M"),
    ModelInfo("ms_resnet34", "ms_resnet", "MS-ResNet-34", 21_801_896, "Hu et al. 2024: 21.80 M"),
    ModelInfo("max_resnet18", "ms_resnet", "MaxResNet-18 for CIFAR", 12_502_090, _SJ2),
    ModelInfo("att_ms_resnet18", "masnn", "Att-MS-ResNet-18", 11_867_960, _SJ2),
    ModelInfo("masnn_dvs128_gesture", "masnn", "MA-SNN, DVS128 Gesture 2×32×32, T = 60", 2_340_535, _SJ2),
)}


def list_models() -> list[str]:
    """Names of the zoo models, in catalogue order."""
    return list(MODELS)


def get_model(name: str, **kwargs: Any) -> nn.Module:
    """Build zoo model ``name``: its builder with the entry's defaults (``spiking_neuron`` as in the catalogue, e.g.
    :class:`sj.neuron.IFNode`; SEW ``cnf='ADD'``) updated by ``kwargs``."""
    import sj.neuron

    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    info = MODELS[name]
    args = {k: getattr(sj.neuron, v) if k == "spiking_neuron" else v for k, v in info.defaults.items()}
    return info.builder(**{**args, **kwargs})


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (learnable and frozen)."""
    return sum(p.numel() for p in model.parameters())
