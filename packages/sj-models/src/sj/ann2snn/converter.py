"""The ANN → SNN converter (rate coding, SpikingJelly's ``Converter`` semantics over :mod:`torch.fx`)."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable, Iterator

import torch
from torch import fx, nn

from sj.ann2snn.graph import (
    check_supported,
    fuse_conv_bn_graph,
    give_each_relu_a_module,
    move_max_pool_before_relu,
    trace,
)
from sj.ann2snn.modules import ConvertedSNN, SpikingReLU
from sj.ann2snn.observer import ActivationObserver, check_momentum, parse_mode
from sj.ann2snn.pooling import gate_max_pools

MIN_SCALE = 1e-6  # λ of an activation that stayed 0 on every calibration sample (its IF neuron then stays silent)


class Converter:
    """Convert a ReLU network into a rate-coded SNN of IF neurons.

    Steps: trace the ANN with :mod:`torch.fx` (a copy; the ANN is not modified); check every operation (anything the
    rate code cannot represent raises :class:`~sj.ann2snn.graph.UnsupportedOperationError` naming it); fold each
    Conv-BN pair (``fuse_bn``); move a max pooling that follows a ReLU in front of it (exact); calibrate the scale λ of
    every ReLU call on ``dataloader`` (progress bar); replace each ReLU by
    ``VoltageScaler(1/λ) → IFNode(V_th=1, soft reset) → VoltageScaler(λ)`` (:class:`~sj.ann2snn.modules.SpikingReLU`).

    Each max pooling becomes an :class:`~sj.ann2snn.pooling.AccumulatedMaxPool` (per window, the input with the largest
    accumulated sum passes), whose time average tends to the ANN's max pooling of rates.

    Supported operations: convolutions, linear layers, batch norms, ReLU, average and max pooling, flatten/view/reshape,
    addition (residuals), concatenation, scaling by constants, dropout (the identity in eval mode).

    Args:
        mode: ``'max'``, a percentile string such as ``'99.9%'``, or a float in ``(0, 1]`` (fraction of the max); see
            :mod:`sj.ann2snn.observer`. Default ``'max'``.
        momentum: ``None`` (mean of per-batch statistics) or a float in ``(0, 1]`` (exponential moving average).
            Default 0.1, as SpikingJelly.
        fuse_bn: fold Conv-BN pairs before calibrating. Default ``True``. Unfused batch norms are kept (affine in
            eval mode).
        channelwise: one λ per output channel instead of one per ReLU. Default ``False``.
        backend: multi-step backend of the IF neurons (default ``'torch'``; see ``sj backends``).
        progress: show a progress bar while calibrating (tqdm if installed, else a line on stderr). Default ``True``.
        max_batches: calibrate on at most this many batches (default: all).

    Example::

        snn = Converter(mode="99.9%")(ann, train_loader)
        out = snn.run_static(images, T=64).mean(0)  # ≈ ann(images)
    """

    def __init__(self, mode: str | float = "max", momentum: float | None = 0.1, fuse_bn: bool = True,
                 channelwise: bool = False, backend: str = "torch", progress: bool = True,
                 max_batches: int | None = None) -> None:
        parse_mode(mode)
        self.mode = mode
        self.momentum = check_momentum(momentum)
        self.fuse_bn = bool(fuse_bn)
        self.channelwise = bool(channelwise)
        self.backend = backend
        self.progress = bool(progress)
        if max_batches is not None and int(max_batches) < 1:
            raise ValueError(f"Converter: max_batches must be ≥ 1 or None, got {max_batches}")
        self.max_batches = None if max_batches is None else int(max_batches)

    def prepare(self, ann: nn.Module) -> tuple[fx.GraphModule, list[str]]:
        """Trace a copy of ``ann`` (in eval mode), check it, fuse Conv-BN and give each ReLU call its own module.

        Returns the graph module (still an ANN, output equal to ``ann``'s in eval mode) and the ReLU targets.
        """
        if not isinstance(ann, nn.Module):
            raise TypeError(f"Converter: expected an nn.Module, got {type(ann).__name__}")
        model = copy.deepcopy(ann).eval()
        gm = trace(model)
        check_supported(gm)
        if self.fuse_bn:
            fuse_conv_bn_graph(gm)
        relus = give_each_relu_a_module(gm)
        if not relus:
            raise ValueError(f"Converter: {type(ann).__name__} has no ReLU, so there is nothing to make spiking")
        move_max_pool_before_relu(gm, relus)
        return gm.eval(), relus

    @torch.no_grad()
    def calibrate(self, gm: fx.GraphModule, relus: list[str], dataloader: Iterable) -> list[ActivationObserver]:
        """Run ``dataloader`` through ``gm`` with an :class:`ActivationObserver` at each ReLU target; returns them."""
        observers = [ActivationObserver(self.mode, self.momentum, self.channelwise) for _ in relus]
        for target, obs in zip(relus, observers):
            setattr(gm, target, obs)
        ref = next(iter(gm.parameters()), None)
        seen = 0
        for batch in _progress(_batches(dataloader, self.max_batches), self.progress, _length(dataloader,
                                                                                                 self.max_batches)):
            x = batch.to(ref.device, ref.dtype) if ref is not None else batch
            gm(x)
            seen += 1
        if seen == 0:
            raise ValueError("Converter: the dataloader yielded no batch to calibrate on")
        return observers

    def convert(self, ann: nn.Module, dataloader: Iterable) -> ConvertedSNN:
        """Convert ``ann`` using activations measured on ``dataloader``.

        Args:
            ann: a ReLU network taking ``[N, *]`` (not modified).
            dataloader: an iterable of input batches ``[N, *]`` or of tuples/lists whose first element is the input
                (a ``torch.utils.data.DataLoader`` of ``(x, y)`` works); a single tensor counts as one batch.

        Returns:
            :class:`~sj.ann2snn.modules.ConvertedSNN` mapping ``[T, N, *]`` → ``[T, N, *out]``, on ``ann``'s device.
        """
        gm, relus = self.prepare(ann)
        observers = self.calibrate(gm, relus, dataloader)
        ref = next(iter(gm.parameters()), None)
        for target, obs in zip(relus, observers):
            scale = obs.broadcast_scale().clamp_min(MIN_SCALE).to(torch.get_default_dtype())
            block = SpikingReLU(scale, backend=self.backend)
            setattr(gm, target, block.to(ref.device) if ref is not None else block)
        gate_max_pools(gm)
        gm.recompile()
        return ConvertedSNN(gm).eval()

    __call__ = convert

    def __repr__(self) -> str:
        return (f"Converter(mode={self.mode!r}, momentum={self.momentum}, fuse_bn={self.fuse_bn}, "
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


def _progress(it: Iterator[torch.Tensor], enabled: bool, total: int | None) -> Iterator[torch.Tensor]:
    if not enabled:
        yield from it
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        yield from tqdm(it, total=total, desc="ann2snn calibration", unit="batch")
        return
    for i, x in enumerate(it, 1):
        print(f"\rann2snn calibration: {i}/{total if total is not None else '?'} batches", end="", file=sys.stderr,
              flush=True)
        yield x
    print(file=sys.stderr)
