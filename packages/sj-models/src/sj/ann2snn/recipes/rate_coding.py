"""SpikingJelly 2.0's rate-coding recipe: every ``nn.ReLU`` module call becomes ``scaler0 → IF neuron → scaler1``
with the activation scale calibrated on data (layer-wise, or per channel).

The result is an ``fx.GraphModule`` in step mode ``'s'`` (one step ``[N, *]`` per call, state kept between calls:
``sj.functional.reset_net`` between samples); after ``sj.functional.set_step_mode(snn, 'm')`` it takes ``[T, N, *]``
and runs its stateless operations on the time-folded batch ``[T·N, *]`` (:mod:`sj.ann2snn.modules`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import torch
from torch import fx, nn

from sj.ann2snn.graph import add_time_folding, check_supported, fuse_conv_bn_graph, is_relu, unwrap_step_layers
from sj.ann2snn.modules import (
    ChannelVoltageScaler,
    SpikingActivation,
    TimeContext,
    VoltageHook,
    VoltageScaler,
    batch_scale,
    parse_scale_mode,
)
from sj.ann2snn.recipes.base import FXConversionRecipe, extract_batch_input, progress_bar
from sj.neuron import HalfThresholdIFNode, IFNode

if TYPE_CHECKING:
    from sj.ann2snn.converter import FXConverter

__all__ = ["RateCodingRecipe"]


class ChannelVoltageHook(nn.Module):
    """Per-channel calibration observer: ``scale[c]`` is the statistic of ``mode`` (see
    :class:`~sj.ann2snn.modules.VoltageHook`) over channel ``c`` (dimension ``channel_dim``) of ``clamp(x, 0)``,
    at least ``eps``, combined over batches with ``momentum``; passes ``x`` through."""

    def __init__(self, mode: str | float = "Max", momentum: float = 0.1, channel_dim: int = 1,
                 eps: float = 1e-6) -> None:
        super().__init__()
        self.mode, self.momentum, self.channel_dim, self.eps = mode, momentum, channel_dim, eps
        self.register_buffer("scale", torch.empty(0))
        self.num_batches_tracked = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError("Channel-wise rate calibration requires activations with at least 2 dimensions, got "
                             f"shape {tuple(x.shape)}")
        dim = self.channel_dim + x.dim() if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < x.dim():
            raise ValueError(f"channel_dim={self.channel_dim} is out of range for activations of shape "
                             f"{tuple(x.shape)}")
        values = x.detach().clamp(min=0).movedim(dim, 0).reshape(x.shape[dim], -1)
        s = batch_scale(values, self.mode).to(device=x.device, dtype=x.dtype).clamp(min=self.eps)
        first = self.num_batches_tracked == 0
        self.scale = s if first else (1 - self.momentum) * self.scale.to(x) + self.momentum * s
        self.num_batches_tracked += x.shape[0]
        return x

    def compute_threshold(self) -> torch.Tensor:
        """The calibrated per-channel scale (raises if nothing was recorded or a value is not finite positive)."""
        if self.scale.numel() == 0:
            raise ValueError("No calibration activations have been recorded.")
        if not torch.isfinite(self.scale).all() or (self.scale <= 0).any():
            raise ValueError("Channel-wise thresholds must be finite positive values.")
        return self.scale.detach()


def _scalar_threshold(node: nn.Module, owner: str) -> float:
    th = getattr(node, "v_threshold", 1.0)
    if isinstance(th, torch.Tensor):
        if th.numel() != 1:
            raise ValueError(f"{owner} requires a scalar neuron threshold, got shape {tuple(th.shape)}")
        th = th.item()
    if not isinstance(th, (int, float)) or not math.isfinite(th) or th <= 0:
        raise ValueError(f"{owner} requires a finite positive neuron threshold, got {th}")
    return float(th)


class RateCodingRecipe(FXConversionRecipe):
    """Rate-coded conversion (SpikingJelly 2.0's ``RateCodingRecipe``).

    Every ``nn.ReLU`` module call gets a calibration hook (``voltage_hook_{i}``, or ``channel_voltage_hook_{i}``,
    numbered per parent module); after calibration it becomes a block ``spiking_{i}`` (``channel_spiking_{i}``) of
    ``scaler0`` (``V_th/λ``), ``if_node`` and ``scaler1`` (``λ``).

    Args:
        dataloader: calibration batches (a tensor, a tuple/list whose first element is the input, or a dict with an
            ``input``/``image``/``x``/... field).
        mode: ``'Max'`` (any case), a percentile ``'p%'`` (``torch.quantile``) or a float in ``(0, 1]`` times the
            max. Default ``'Max'``.
        momentum: ``λ ← (1 − momentum)·λ + momentum·λ_batch`` after the first batch. Default 0.1.
        fuse_flag: fold Conv-BN pairs first. Default ``True``.
        channel_wise: one λ per channel (``ChannelVoltageScaler``). Default ``False``.
        channel_dim: the channel dimension of an activation. Default 1.
        pre_spike_maxpool: channel-wise only: a ``nn.MaxPool2d`` that is the only user of a ReLU is calibrated and
            applied before the neuron (on analog values). Default ``False``.
        half_threshold: channel-wise only: neurons start at half the threshold
            (:class:`~sj.neuron.HalfThresholdIFNode`).
        eps: the smallest channel-wise λ. Default 1e-6.
        neuron_factory: ``neuron_factory(λ)`` builds the neuron (layer-wise; channel-wise gets ``1.0``); default
            ``IFNode(v_reset=None)``. The input scaler divides by λ and multiplies by the neuron's threshold.
    """

    def __init__(self, dataloader: Iterable, mode: str | float = "Max", momentum: float = 0.1,
                 fuse_flag: bool = True, channel_wise: bool = False, channel_dim: int = 1,
                 pre_spike_maxpool: bool = False, half_threshold: bool = False, eps: float = 1e-6,
                 neuron_factory: Callable[[float], nn.Module] | None = None) -> None:
        if channel_wise and half_threshold and neuron_factory is not None:
            raise ValueError("RateCodingRecipe(channel_wise=True, half_threshold=True) does not support a custom "
                             "neuron_factory")
        self.dataloader, self.mode, self.momentum, self.fuse_flag = dataloader, mode, momentum, fuse_flag
        self.channel_wise, self.channel_dim, self.pre_spike_maxpool = channel_wise, channel_dim, pre_spike_maxpool
        self.half_threshold, self.eps, self.neuron_factory = half_threshold, eps, neuron_factory

    def validate(self, converter: FXConverter) -> None:
        if self.dataloader is None:
            raise ValueError("RateCodingRecipe requires a dataloader. Pass dataloader to RateCodingRecipe.")
        parse_scale_mode(self.mode)
        m = self.momentum
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not math.isfinite(m) or not 0.0 <= m <= 1.0:
            raise ValueError(f"momentum must be a finite number in [0, 1], got {m!r}")
        for name in ("channel_wise", "pre_spike_maxpool", "half_threshold"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be bool, got {getattr(self, name)!r}")
        if isinstance(self.channel_dim, bool) or not isinstance(self.channel_dim, int):
            raise ValueError(f"channel_dim must be int, got {self.channel_dim!r}")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not self.eps > 0:
            raise ValueError(f"eps must be a positive number, got {self.eps!r}")

    def before_trace(self, converter: FXConverter, ann: nn.Module) -> nn.Module:
        return copy.deepcopy(ann).eval()  # the SNN owns its layers: training it leaves the ANN alone

    def after_trace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        check_supported(fx_model)
        functional = [n.name for n in fx_model.graph.nodes if is_relu(n, fx_model) and n.op != "call_module"]
        if functional:
            raise ValueError(f"RateCodingRecipe converts nn.ReLU modules; the functional ReLU call(s) {functional} "
                             "would stay analog. Use nn.ReLU modules (or Converter(mode=...), which converts every "
                             "ReLU call)")
        unwrap_step_layers(fx_model)
        if self.fuse_flag:
            fuse_conv_bn_graph(fx_model)
        return fx_model.to(converter.device)

    # What a subclass changes: the hook (and its name), whether a following max pooling comes first, the block.
    def _hook(self) -> tuple[str, nn.Module]:
        """The name prefix of a hook (its number is appended) and a fresh hook."""
        if self.channel_wise:
            return "channel_voltage_hook_", ChannelVoltageHook(self.mode, self.momentum, self.channel_dim, self.eps)
        return "voltage_hook_", VoltageHook(momentum=self.momentum, mode=self.mode)

    def _pool_first(self) -> bool:
        """Calibrate and apply an ``nn.MaxPool2d`` that is the only user of a ReLU before the neuron."""
        return self.channel_wise and self.pre_spike_maxpool

    def _block_name(self, hook_name: str) -> str:
        return hook_name.replace("voltage_hook_", "spiking_")

    def _block(self, hook: nn.Module, hook_node: fx.Node, time: TimeContext) -> SpikingActivation:
        return self._channel_block(hook, time) if self.channel_wise else self._layer_block(hook, hook_node, time)

    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        counters: dict[str, int] = {}
        for node in list(fx_model.graph.nodes):
            if not (node.op == "call_module" and type(fx_model.get_submodule(node.target)) is nn.ReLU):
                continue
            parent = node.target.rpartition(".")[0]
            i = counters[parent] = counters.get(parent, -1) + 1
            prefix, hook = self._hook()
            watched = node
            users = list(node.users)
            if self._pool_first() and len(users) == 1 and users[0].op == "call_module" \
                    and isinstance(fx_model.get_submodule(users[0].target), nn.MaxPool2d):
                watched = users[0]
            target = f"{parent}.{prefix}{i}" if parent else f"{prefix}{i}"
            fx_model.add_submodule(target, hook.to(converter.device))
            with fx_model.graph.inserting_after(watched):
                hook_node = fx_model.graph.call_module(target, (watched,))
            watched.replace_all_uses_with(hook_node, delete_user_cb=lambda user, keep=hook_node: user is not keep)
            hook_node.meta["ann2snn_activation"] = node
        fx_model.graph.lint()
        fx_model.recompile()
        return fx_model

    def calibrate(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        total = len(self.dataloader) if hasattr(self.dataloader, "__len__") else None
        for data in progress_bar(self.dataloader, True, total):
            x = extract_batch_input(data)
            if isinstance(x, (list, tuple, dict)):
                raise ValueError("RateCodingRecipe supports single-input calibration batches only; for multi-input "
                                 "models subclass RateCodingRecipe and override calibrate()")
            fx_model(torch.as_tensor(x).to(converter.device))
        return fx_model

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        time = TimeContext()
        for hook_node in list(fx_model.graph.nodes):
            relu = hook_node.meta.get("ann2snn_activation") if hook_node.op == "call_module" else None
            if relu is None:
                continue
            hook = fx_model.get_submodule(hook_node.target)
            parent, _, leaf = hook_node.target.rpartition(".")
            leaf = self._block_name(leaf)
            block = self._block(hook, hook_node, time)
            target = f"{parent}.{leaf}" if parent else leaf
            fx_model.add_submodule(target, block.to(converter.device))
            watched = hook_node.args[0]
            if watched is not relu:  # a max pooling calibrated and applied before the neuron
                watched.replace_input_with(relu, relu.args[0])
                source = watched
            else:
                source = relu.args[0]
            with fx_model.graph.inserting_after(hook_node):
                block_node = fx_model.graph.call_module(target, (source,))
            hook_node.replace_all_uses_with(block_node)
            fx_model.graph.erase_node(hook_node)
            relu.replace_all_uses_with(block_node)
            fx_model.graph.erase_node(relu)
        add_time_folding(fx_model, time)
        fx_model.delete_all_unused_submodules()
        fx_model.recompile()
        return fx_model.to(converter.device)

    def _layer_block(self, hook: VoltageHook, hook_node: fx.Node, time: TimeContext) -> SpikingActivation:
        scale = float(hook.scale.item())
        if not (math.isfinite(scale) and scale > 0.0):
            raise ValueError(f"Threshold must be a finite positive number, got {scale} for hook {hook_node.target!r} "
                             "(its ReLU never fired on the calibration data)")
        node = IFNode(v_reset=None) if self.neuron_factory is None else self.neuron_factory(scale)
        th = _scalar_threshold(node, "RateCodingRecipe")
        return SpikingActivation(VoltageScaler(th / scale), node, VoltageScaler(scale), time)

    def _channel_block(self, hook: ChannelVoltageHook, time: TimeContext) -> SpikingActivation:
        scale = hook.compute_threshold()
        if self.half_threshold:
            node, th = HalfThresholdIFNode(), 1.0
        else:
            node = IFNode(v_reset=None) if self.neuron_factory is None else self.neuron_factory(1.0)
            th = _scalar_threshold(node, "Channel-wise RateCodingRecipe")
        return SpikingActivation(ChannelVoltageScaler(th / scale, self.channel_dim), node,
                                 ChannelVoltageScaler(scale, self.channel_dim), time)
