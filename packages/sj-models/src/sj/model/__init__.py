"""The model zoo at SpikingJelly's paths (``spikingjelly.activation_based.model.X`` → ``sj.model.X``).

Submodules: ``spiking_resnet``, ``sew_resnet``, ``spiking_vgg``, ``spiking_vggws_ottt``, ``parametric_lif_net``,
``spikformer``, ``spike_driven_transformer``, ``qkformer``, ``maxformer``, ``ms_resnet``, ``masnn``, ``snas_net``,
``spike_dhs``.
The catalogue (``sj model list``): :data:`MODELS`, :func:`get_model`, :func:`list_models`. Names and submodules are
imported on first use (PEP 562), so the ``sj`` plug-in stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MODELS": "registry", "ModelInfo": "registry", "count_parameters": "registry", "get_model": "registry",
    "list_models": "registry",
    # SpikingJelly 2.0's model/__init__ names
    "Spikformer": "spikformer", "spikformer_cifar10": "spikformer", "spikformer_s": "spikformer",
    "spikformer_ti": "spikformer", "SpikeDrivenTransformer": "spike_driven_transformer",
    "sdt_8_384": "spike_driven_transformer", "QKFormer": "qkformer", "qkformer_10_384": "qkformer",
    "MaxFormer": "maxformer", "maxformer_10_384": "maxformer", "maxformer_cifar": "maxformer",
    "MSResNet": "ms_resnet", "MaxResNet": "ms_resnet", "ms_resnet18": "ms_resnet", "ms_resnet34": "ms_resnet",
    "max_resnet18": "ms_resnet", "MASNN": "masnn", "AttMSResNet": "masnn", "att_ms_resnet18": "masnn",
    "masnn_dvs128_gesture": "masnn",
}
_SUBMODULES = ("masnn", "maxformer", "ms_resnet", "parametric_lif_net", "qkformer", "registry", "sew_resnet",
               "snas_net", "spike_dhs", "spike_driven_transformer", "spikformer", "spiking_resnet", "spiking_vgg",
               "spiking_vggws_ottt")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"sj.model.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"sj.model.{name}")
    raise AttributeError(f"module 'sj.model' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
