"""Multi-dimensional attention SNNs (Yao et al. 2023, "Attention Spiking Neural Networks"; SpikingJelly 2.0's
``model.masnn``), with SpikingJelly's module names.

- :class:`MASNN`: conv-BN[-avgpool] blocks each followed by multi-dimensional (temporal, channel, spatial) attention
  and a LIF, then two linear-BN blocks with temporal-wise attention, a ReLU and a LIF; ``[T, N, C, H, W]`` (``T``
  must be the configured one) or an image repeated ``T`` times → ``[N, num_classes]`` (mean over time). Default
  neuron: LIF τ = 10/7, threshold 0.3, ``decay_input=False``, ``detach_reset=True``, rectangular surrogate (α = 2).
- :class:`AttMSResNet`: MS-ResNet blocks (:mod:`sj.model.ms_resnet`) with channel and spatial attention on the
  residual branch, average-pooling shortcuts, dropout before a linear head. Default neuron: LIF τ = 4/3, threshold
  0.5, ``decay_input=False``, ``detach_reset=True``, rectangular surrogate (α = 1).

``spiking_neuron(**kwargs)`` replaces the default neuron (whose arguments ``kwargs`` otherwise update); step mode
``'m'``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj import layer, surrogate
from sj.functional import set_step_mode
from sj.layer import MultiDimensionalAttention, TemporalWiseAttention
from sj.model._builders import NeuronArg, batch_norm2d, to_sequence
from sj.model.ms_resnet import MSResNet, _conv1x1, _MSBlock
from sj.neuron import LIFNode

__all__ = ["AttMSResNet", "MASNN", "att_ms_resnet18", "masnn_dvs128_gesture"]

MA_LIF = {"tau": 10.0 / 7.0, "v_threshold": 0.3, "detach_reset": True, "decay_input": False, "alpha": 2.0}
ATT_MS_LIF = {"tau": 4.0 / 3.0, "v_threshold": 0.5, "detach_reset": True, "decay_input": False, "alpha": 1.0}


def _neuron_factory(spiking_neuron: NeuronArg, defaults: dict[str, Any],
                    kwargs: dict[str, Any]) -> Callable[[], nn.Module]:
    """Fresh neurons: ``spiking_neuron(**kwargs)``, or a multi-step LIF of ``defaults`` updated by ``kwargs``."""
    if spiking_neuron is not None:
        return lambda: spiking_neuron(**copy.deepcopy(kwargs))
    params = {k: v for k, v in defaults.items() if k != "alpha"}

    def default() -> nn.Module:
        return LIFNode(**{**params, "step_mode": "m", "surrogate_function": surrogate.Rect(alpha=defaults["alpha"]),
                          **copy.deepcopy(kwargs)})

    return default


class _MaConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, pool: int, cell: Callable[[], nn.Module],
                 attention: nn.Module) -> None:
        super().__init__()
        self.conv = layer.Conv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=True, step_mode="m")
        self.bn = layer.BatchNorm2d(out_channels, step_mode="m")
        self.pool = layer.AvgPool2d(pool, step_mode="m") if pool > 1 else None
        self.attn = attention
        self.cell = cell()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        if self.pool is not None:
            x = self.pool(x)
        return self.cell(self.attn(x))


class _MaFcBlock(nn.Module):
    def __init__(self, in_features: int, out_features: int, T: int, reduction_t: int,
                 cell: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.linear = layer.Linear(in_features, out_features, bias=True, step_mode="m")
        self.bn = layer.BatchNorm1d(out_features, step_mode="m")
        self.attn = TemporalWiseAttention(T=T, reduction=reduction_t, dimension=2)
        self.relu = nn.ReLU()
        self.cell = cell()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cell(self.relu(self.attn(self.bn(self.linear(x)))))


class MASNN(nn.Module):
    """The multi-dimensional attention SNN (see the module docstring).

    Args:
        T: steps (the temporal attention is sized for it). Default 60.
        in_channels, num_classes, input_size: Defaults 2, 11, (32, 32).
        channels, pools: per conv block, its channels and average-pooling factor. Defaults (64, 128, 128), (1, 2, 2).
        fc_hidden: hidden units. Default 256.
        reduction_t, reduction_c: attention reductions. Defaults 5, 8.
        spiking_neuron, kwargs: the neurons (see the module docstring).
    """

    def __init__(self, T: int = 60, in_channels: int = 2, num_classes: int = 11, input_size: tuple[int, int] = (32, 32),
                 channels: tuple[int, ...] = (64, 128, 128), pools: tuple[int, ...] = (1, 2, 2), fc_hidden: int = 256,
                 reduction_t: int = 5, reduction_c: int = 8, spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        super().__init__()
        if len(channels) != len(pools):
            raise ValueError(f"channels {channels} and pools {pools} must have the same length")
        height, width = input_size
        for pool in pools:
            if pool > 1 and (height % pool or width % pool):
                raise ValueError(f"input_size {input_size} must be divisible by the pooling factors {pools}")
            height, width = height // pool, width // pool
        self.T = T
        cell = _neuron_factory(spiking_neuron, MA_LIF, kwargs)
        blocks, cin = [], in_channels
        for cout, pool in zip(channels, pools):
            attention = MultiDimensionalAttention(T=T, C=cout, reduction_t=reduction_t, reduction_c=reduction_c)
            blocks.append(_MaConvBlock(cin, cout, pool, cell, attention))
            cin = cout
        self.conv_blocks = nn.Sequential(*blocks)
        self.fc_blocks = nn.Sequential(_MaFcBlock(channels[-1] * height * width, fc_hidden, T, reduction_t, cell),
                                       _MaFcBlock(fc_hidden, num_classes, T, reduction_t, cell))
        set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_blocks(self.conv_blocks(to_sequence(x, self.T, require_T=True)).flatten(2)).mean(0)


def masnn_dvs128_gesture(T: int = 60, in_channels: int = 2, num_classes: int = 11,
                         input_size: tuple[int, int] = (32, 32), spiking_neuron: NeuronArg = None,
                         **kwargs: Any) -> MASNN:
    """The DVS128 Gesture MA-SNN: channels (64, 128, 128), pools (1, 2, 2), 256 hidden units."""
    return MASNN(T, in_channels, num_classes, input_size, (64, 128, 128), (1, 2, 2), 256, 5, 8, spiking_neuron,
                 **kwargs)


class _AttMSBlock(_MSBlock):
    """An MS block whose residual branch ends in an attention module (its last BN weight starts at 0.1)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, downsample: nn.Module | None,
                 attention: nn.Module, cell: Callable[[], nn.Module]) -> None:
        super().__init__(in_channels, out_channels, stride, downsample)
        self.spike1, self.spike2 = cell(), cell()
        nn.init.constant_(self.bn2.weight, 0.1)
        self.attention = attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.spike2(self.bn1(self.conv1(self.spike1(x))))))
        return self.attention(out) + identity


class AttMSResNet(MSResNet):
    """MS-ResNet with channel and spatial attention (see the module docstring); arguments as
    :class:`~sj.model.ms_resnet.MSResNet` (``T`` default 1) plus ``reduction_c`` (default 8) and ``dropout`` before
    the head (default 0.2)."""

    def __init__(self, T: int = 1, in_channels: int = 3, num_classes: int = 1000,
                 layers: tuple[int, ...] = (2, 2, 2, 2), base_channels: int = 64, stem_kernel_size: int = 7,
                 stem_stride: int = 2, stem_pool: bool = False, stage_channels: tuple[int, ...] | None = None,
                 reduction_c: int = 8, dropout: float = 0.2, spiking_neuron: NeuronArg = None, **kwargs: Any) -> None:
        self._cell = _neuron_factory(spiking_neuron, ATT_MS_LIF, kwargs)
        self._reduction_c = reduction_c
        super().__init__(T, in_channels, num_classes, layers, base_channels, stem_kernel_size, stem_stride, stem_pool,
                         stage_channels)
        self.head_lif = self._cell()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.head.in_features, num_classes)
        set_step_mode(self, "m")

    def _make_layer(self, out_channels: int, blocks: int, stride: int, spiking_neuron: NeuronArg,
                    kwargs: dict[str, Any]) -> nn.Sequential:
        def attention() -> nn.Module:
            return MultiDimensionalAttention(T=self.T, C=out_channels, reduction_c=self._reduction_c,
                                             use_temporal=False)

        downsample = None
        if stride != 1 or self.inplanes != out_channels:
            bn = batch_norm2d(out_channels, self._bn_weight)
            pool = [layer.AvgPool2d(stride, stride, ceil_mode=True, step_mode="m")] if stride != 1 else []
            downsample = nn.Sequential(*pool, _conv1x1(self.inplanes, out_channels, 1), bn)
        stage = [_AttMSBlock(self.inplanes, out_channels, stride, downsample, attention(), self._cell)]
        self.inplanes = out_channels
        stage += [_AttMSBlock(out_channels, out_channels, 1, None, attention(), self._cell) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(to_sequence(x, self.T)))))
        if self.layer4 is not None:
            x = self.layer4(x)
        return self.head(self.dropout(self.avgpool(self.head_lif(x)).flatten(2).mean(0)))


def att_ms_resnet18(T: int = 1, in_channels: int = 3, num_classes: int = 1000, spiking_neuron: NeuronArg = None,
                    **kwargs: Any) -> AttMSResNet:
    """Att-MS-ResNet-18."""
    return AttMSResNet(T, in_channels, num_classes, (2, 2, 2, 2), spiking_neuron=spiking_neuron, **kwargs)
