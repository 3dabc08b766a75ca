"""What the zoo's builders share: making neurons from SpikingJelly's ``spiking_neuron=`` / ``**kwargs``, the
transformers' common layers, and loading torchvision's ImageNet weights (``pretrained=True``) without importing
torchvision."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj import layer
from sj.layer.attention import multi_step_neuron

NeuronClass = Callable[..., nn.Module]
NeuronArg = NeuronClass | None  # a neuron class, or None for the model's own default (LIF)
# The transformers' neuron defaults (SpikingJelly's): LIF, tau 2, detach_reset; the attention neuron fires at 0.5.
LIF_DEFAULTS = {"tau": 2.0, "detach_reset": True}
ATTENTION_DEFAULTS = {"tau": 2.0, "v_threshold": 0.5, "detach_reset": True}


def to_sequence(x: torch.Tensor, T: int, require_T: bool = False) -> torch.Tensor:
    """The zoo's input rule: an image ``[N, C, H, W]`` repeated over ``T`` steps, a sequence ``[T', N, C, H, W]`` as
    it is (``require_T``: only with ``T' == T``)."""
    if x.ndim == 4:
        return x.unsqueeze(0).repeat(T, 1, 1, 1, 1)
    if x.ndim != 5:
        raise ValueError(f"expected 4D image input [N, C, H, W] or 5D sequence input [T, N, C, H, W], but got shape "
                         f"{tuple(x.shape)}")
    if require_T and x.shape[0] != T:
        raise ValueError(f"expected a sequence with T={T} time steps, but got shape {tuple(x.shape)}")
    return x


def make_neuron(spiking_neuron: NeuronClass | None, kwargs: dict[str, Any], owner: str) -> nn.Module:
    """``spiking_neuron(**deepcopy(kwargs))``: a fresh neuron with its own copy of every argument (a surrogate module
    passed as ``surrogate_function=`` is copied per neuron, as in SpikingJelly)."""
    if spiking_neuron is None or not callable(spiking_neuron):
        raise TypeError(f"{owner}: spiking_neuron must be a neuron class such as sj.neuron.IFNode (further neuron "
                        f"arguments go in **kwargs), got {spiking_neuron!r}")
    return spiking_neuron(**copy.deepcopy(kwargs))


#: The transformers' neurons, ``make_multi_step_neuron(spiking_neuron, kwargs, defaults=None)``:
#: :func:`sj.layer.attention.multi_step_neuron` (``spiking_neuron``, default LIF with ``defaults``, in step mode
#: ``'m'``; a ``step_mode`` other than ``'m'`` in ``kwargs`` raises :class:`~sj.base.StepModeError`).
make_multi_step_neuron = functools.partial(multi_step_neuron, owner="these models")


def batch_norm2d(channels: int, weight: float | None = None) -> layer.BatchNorm2d:
    """``BatchNorm2d`` in step mode ``'m'`` (``[T, N, C, H, W]``); ``weight``: its initial scale (default 1)."""
    bn = layer.BatchNorm2d(channels, step_mode="m")
    if weight is not None:
        nn.init.constant_(bn.weight, weight)
    return bn


def max_pool_3x3() -> layer.MaxPool2d:
    """3×3 max pooling, stride 2, padding 1, in step mode ``'m'``: ``[T, N, C, H, W]`` → ``[T, N, C, ⌈H/2⌉, ⌈W/2⌉]``."""
    return layer.MaxPool2d(3, stride=2, padding=1, step_mode="m")


class SpatialMLP(nn.Module):
    """The 1×1-convolution MLP of the spike-driven transformers (membrane shortcut): ``[T, N, dim, H, W]`` →
    ``lif1`` → ``fc1``-``bn1`` (``hidden_dim`` channels; added to the input when ``hidden_dim == dim``) → ``lif2`` →
    ``fc2``-``bn2`` (``dim`` channels), plus the (updated) input."""

    def __init__(self, dim: int, hidden_dim: int, spiking_neuron: NeuronArg, neuron_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.residual = dim == hidden_dim
        self.fc1, self.bn1 = layer.Conv2d(dim, hidden_dim, 1, step_mode="m"), batch_norm2d(hidden_dim)
        self.lif1 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)
        self.fc2, self.bn2 = layer.Conv2d(hidden_dim, dim, 1, step_mode="m"), batch_norm2d(dim)
        self.lif2 = make_multi_step_neuron(spiking_neuron, neuron_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        x = self.bn1(self.fc1(self.lif1(x)))
        if self.residual:
            x = identity = x + identity
        return self.bn2(self.fc2(self.lif2(x))) + identity


# torchvision's ImageNet weights, by architecture (the files torchvision and SpikingJelly download).
TORCHVISION_URLS = {name: f"https://download.pytorch.org/models/{name}-{digest}.pth" for name, digest in (
    ("resnet18", "f37072fd"), ("resnet34", "b627a593"), ("resnet50", "0676ba61"), ("resnet101", "63fe2227"),
    ("resnet152", "394f9c45"), ("resnext50_32x4d", "7cdf4587"), ("resnext101_32x8d", "8ba56ff5"),
    ("wide_resnet50_2", "95faca4d"), ("wide_resnet101_2", "32ee1156"), ("vgg11", "8a719046"),
    ("vgg13", "19584684"), ("vgg16", "397923af"), ("vgg19", "dcbb9e9d"), ("vgg11_bn", "6002323d"),
    ("vgg13_bn", "abd245e5"), ("vgg16_bn", "6c64b313"), ("vgg19_bn", "c79401a0"))}


def load_torchvision_weights(model: nn.Module, arch: str, progress: bool = True) -> nn.Module:
    """Load torchvision's ImageNet weights of ``arch`` into ``model`` (strict: the spiking model has torchvision's
    parameter names). The file is read from the torch hub cache (``torch.hub.get_dir()/checkpoints``), downloaded
    there first when absent, as torchvision does."""
    if arch not in TORCHVISION_URLS:
        raise ValueError(f"no torchvision weights for {arch!r}; known: {', '.join(TORCHVISION_URLS)}")
    state = torch.hub.load_state_dict_from_url(TORCHVISION_URLS[arch], progress=progress, map_location="cpu")
    model.load_state_dict(state)
    return model


def flatten_features(x: torch.Tensor, step_mode: str) -> torch.Tensor:
    """Flatten pooled features before the classifier: from dimension 1 in step mode ``'s'`` (``[N, C, 1, 1]``),
    from 2 in ``'m'`` (``[T, N, C, 1, 1]``)."""
    return torch.flatten(x, 2 if step_mode == "m" else 1)
