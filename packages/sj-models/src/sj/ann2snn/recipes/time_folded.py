"""sj's time-folded rate-coding recipe: what ``Converter(mode=...)(ann, dataloader)`` runs.

Compared with SpikingJelly's :class:`~sj.ann2snn.recipes.rate_coding.RateCodingRecipe`: every ReLU call (module,
``F.relu``, ``torch.relu``, ``.relu()``; a module called twice counts twice) is converted; a max pooling right after
a ReLU is moved in front of it (exact) and every max pooling passes the input with the largest accumulated sum
(:class:`~sj.ann2snn.pooling.AccumulatedMaxPool`, Rueckauer et al. 2017) instead of the max of spikes; percentiles
are nearest-rank; ``momentum=None`` averages the per-batch statistics; the result is a
:class:`~sj.ann2snn.modules.ConvertedSNN` that takes ``[T, N, *]`` (any backend).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import torch
from torch import fx, nn

from sj.ann2snn.graph import (
    check_supported,
    fuse_conv_bn_graph,
    give_each_relu_a_module,
    move_max_pool_before_relu,
    unwrap_step_layers,
)
from sj.ann2snn.modules import ConvertedSNN, SpikingReLU, TimeContext
from sj.ann2snn.observer import ActivationObserver, check_momentum, parse_mode
from sj.ann2snn.pooling import gate_max_pools
from sj.ann2snn.recipes.base import FXConversionRecipe, progress_bar

if TYPE_CHECKING:
    from sj.ann2snn.converter import FXConverter

MIN_SCALE = 1e-6  # λ of an activation that stayed 0 on every calibration sample (its IF neuron then stays silent)


class TimeFoldedRateCodingRecipe(FXConversionRecipe):
    """Rate coding with IF neurons (soft reset, ``V_th = 1``) scaled by a calibrated λ per ReLU call.

    Args:
        dataloader: calibration batches ``[N, *]``, or tuples/lists whose first element is the input (a single tensor
            counts as one batch). May be given later by ``Converter.convert(ann, dataloader)``.
        mode: ``'max'``, a percentile string such as ``'99.9%'`` (nearest rank) or a float in ``(0, 1]`` (fraction
            of the max); see :mod:`sj.ann2snn.observer`. Default ``'max'``.
        momentum: ``None`` (mean of per-batch statistics) or a float in ``(0, 1]`` (exponential moving average).
            Default 0.1, as SpikingJelly.
        fuse_bn: fold Conv-BN pairs before calibrating. Default ``True``.
        channelwise: one λ per output channel instead of one per ReLU. Default ``False``.
        backend: multi-step backend of the IF neurons (default ``'torch'``; see ``sj backends``).
        progress: show a progress bar while calibrating (tqdm if installed, else a line on stderr). Default ``True``.
        max_batches: calibrate on at most this many batches (default: all).
    """

    def __init__(self, dataloader: Iterable | None = None, mode: str | float = "max", momentum: float | None = 0.1,
                 fuse_bn: bool = True, channelwise: bool = False, backend: str = "torch", progress: bool = True,
                 max_batches: int | None = None) -> None:
        parse_mode(mode)
        self.dataloader = dataloader
        self.mode = mode
        self.momentum = check_momentum(momentum)
        self.fuse_bn = bool(fuse_bn)
        self.channelwise = bool(channelwise)
        self.backend = backend
        self.progress = bool(progress)
        if max_batches is not None and int(max_batches) < 1:
            raise ValueError(f"Converter: max_batches must be ≥ 1 or None, got {max_batches}")
        self.max_batches = None if max_batches is None else int(max_batches)
        self._relus: list[str] = []

    def validate(self, converter: FXConverter) -> None:
        if self.dataloader is None:
            raise ValueError("Converter: no calibration data; call convert(ann, dataloader)")

    def before_trace(self, converter: FXConverter, ann: nn.Module) -> nn.Module:
        if not isinstance(ann, nn.Module):
            raise TypeError(f"Converter: expected an nn.Module, got {type(ann).__name__}")
        return copy.deepcopy(ann).eval()

    def after_trace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        check_supported(fx_model)
        unwrap_step_layers(fx_model)
        if self.fuse_bn:
            fuse_conv_bn_graph(fx_model)
        self._relus = give_each_relu_a_module(fx_model)
        if not self._relus:
            raise ValueError(f"Converter: {fx_model.__class__.__name__} has no ReLU, so there is nothing to make "
                             "spiking")
        move_max_pool_before_relu(fx_model, self._relus)
        return fx_model.eval()

    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        for target in self._relus:
            setattr(fx_model, target, ActivationObserver(self.mode, self.momentum, self.channelwise))
        return fx_model

    def calibrate(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        ref = next(iter(fx_model.parameters()), None)
        seen = 0
        total = _length(self.dataloader, self.max_batches)
        for batch in progress_bar(_batches(self.dataloader, self.max_batches), self.progress, total):
            fx_model(batch.to(ref.device, ref.dtype) if ref is not None else batch)
            seen += 1
        if seen == 0:
            raise ValueError("Converter: the dataloader yielded no batch to calibrate on")
        return fx_model

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        time = TimeContext()
        for target in self._relus:
            obs = fx_model.get_submodule(target)
            scale = obs.broadcast_scale().clamp_min(MIN_SCALE).to(torch.get_default_dtype())
            block = SpikingReLU(scale, backend=self.backend)
            block.time = time
            setattr(fx_model, target, block.to(converter.device))
        gate_max_pools(fx_model, time)
        fx_model.recompile()
        return fx_model

    def finalize(self, converter: FXConverter, fx_model: fx.GraphModule) -> ConvertedSNN:
        return ConvertedSNN(fx_model).eval()

    def __repr__(self) -> str:
        return (f"TimeFoldedRateCodingRecipe(mode={self.mode!r}, momentum={self.momentum}, fuse_bn={self.fuse_bn}, "
                f"channelwise={self.channelwise}, backend={self.backend!r})")


def _batches(dataloader: Iterable, limit: int | None) -> Iterator[torch.Tensor]:
    items = [dataloader] if isinstance(dataloader, torch.Tensor) else dataloader
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            return
        x = item[0] if isinstance(item, (tuple, list)) else item
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"Converter: batch {i} is a {type(x).__name__}; expected a tensor or a tuple/list whose "
                            "first element is the input tensor")
        yield x


def _length(dataloader: Iterable, limit: int | None) -> int | None:
    if isinstance(dataloader, torch.Tensor):
        return 1
    try:
        n = len(dataloader)  # type: ignore[arg-type]
    except TypeError:
        return limit
    return n if limit is None else min(n, limit)
