"""Monitors: record what layers see and emit, through hooks (SpikingJelly-compatible API).

Each monitor hooks every sub-module of ``net`` that is an instance of ``instance`` (``None``: modules of ``net``'s own
type, as in SpikingJelly) and appends ``function_on_*(value)`` to :attr:`BaseMonitor.records` (all layers, call order);
``monitor['layer.name']`` lists one layer's records (a new list, indices in :attr:`BaseMonitor.name_records_index`).
A hook's value is the output, the input (before the forward call), the gradient of the input or of the output, unpacked
when it is a tuple of one element. Records are detached copies, so a monitor never keeps an autograd graph alive.
``enable()``/``disable()`` pause recording, ``clear_recorded_data()`` empties the lists, ``remove_hooks()`` releases the
hooks, ``close()`` (also the end of a ``with`` block, and garbage collection) does both. :class:`GPUMonitor` samples GPU
utilisation and memory with ``nvidia-smi`` in a background thread.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

Fn = Callable[[torch.Tensor], Any]
_log = logging.getLogger("sj.monitor")


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _detached(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_detached(v) for v in value)
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def _unpack_single(value: Any) -> Any:
    """A tuple of one element (hook inputs, gradients) is recorded as that element, as SpikingJelly does."""
    return value[0] if isinstance(value, tuple) and len(value) == 1 else value


class BaseMonitor:
    """Shared bookkeeping of every monitor (not used directly)."""

    def __init__(self, net: nn.Module, instance: type | tuple[type, ...] | None) -> None:
        if not isinstance(net, nn.Module):
            raise TypeError(f"{type(self).__name__}: net must be an nn.Module, got {type(net).__name__}")
        self.hooks: list[torch.utils.hooks.RemovableHandle] = []
        self.monitored_layers: list[str] = []
        self.records: list[Any] = []
        self.name_records_index: dict[str, list[int]] = {}  # layer name → positions of its records in `records`
        self._enabled = True
        instance = type(net) if instance is None else instance
        self._targets = [(name, m) for name, m in net.named_modules() if isinstance(m, instance)]
        if not self._targets:
            raise ValueError(f"{type(self).__name__}: no module of {instance} in the network")
        for name, _ in self._targets:
            self.monitored_layers.append(name)
            self.name_records_index[name] = []

    def _record(self, name: str, value: Any) -> None:
        if self._enabled:
            self.name_records_index[name].append(len(self.records))
            self.records.append(_detached(value))

    def __getitem__(self, key: int | str) -> Any:
        """``monitor[i]``: the i-th record of all layers; ``monitor['name']``: a new list of that layer's records."""
        if isinstance(key, str):
            if key not in self.name_records_index:
                raise KeyError(f"{key!r} is not monitored; monitored layers: {self.monitored_layers}")
            return [self.records[i] for i in self.name_records_index[key]]
        return self.records[key]

    def __len__(self) -> int:
        return len(self.records)

    def clear_recorded_data(self) -> None:
        """Empty all records (hooks stay)."""
        self.records.clear()
        for v in self.name_records_index.values():
            v.clear()

    def enable(self) -> None:
        """Resume recording."""
        self._enabled = True

    def disable(self) -> None:
        """Pause recording (hooks stay registered but do nothing)."""
        self._enabled = False

    def is_enable(self) -> bool:
        """Whether the monitor records."""
        return self._enabled

    def remove_hooks(self) -> None:
        """Release every hook; the monitor records nothing afterwards."""
        for h in self.hooks:
            h.remove()
        self.hooks.clear()

    def close(self) -> None:
        """Stop recording and release every hook (the records stay)."""
        self.disable()
        self.remove_hooks()

    def __enter__(self) -> BaseMonitor:
        return self

    def __exit__(self, *exc_info: object) -> bool:
        self.close()
        return False

    def __del__(self) -> None:
        self.close()


class OutputMonitor(BaseMonitor):
    """Record ``function_on_output(output)`` of each monitored layer at every forward call.

    Args:
        net: the network.
        instance: module type(s) to monitor (e.g. ``sj.neuron.BaseNode``); ``None``: modules of ``net``'s type
            (``net`` itself, as in SpikingJelly).
        function_on_output: applied to the output before recording (default: identity; e.g. ``lambda s: s.mean()``).
    """

    def __init__(self, net: nn.Module, instance: type | tuple[type, ...] | None = None,
                 function_on_output: Fn = _identity) -> None:
        super().__init__(net, instance)
        self.function_on_output = function_on_output
        for name, m in self._targets:
            self.hooks.append(m.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(_m, _inp, out):
            self._record(name, self.function_on_output(_unpack_single(out)))
        return hook


class InputMonitor(BaseMonitor):
    """Record ``function_on_input(input)`` of each monitored layer before every forward call (the positional inputs:
    the input itself when there is one, else their tuple)."""

    def __init__(self, net: nn.Module, instance: type | tuple[type, ...] | None = None,
                 function_on_input: Fn = _identity) -> None:
        super().__init__(net, instance)
        self.function_on_input = function_on_input
        for name, m in self._targets:
            self.hooks.append(m.register_forward_pre_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(_m, inp):
            self._record(name, self.function_on_input(_unpack_single(inp)))
        return hook


class AttributeMonitor(BaseMonitor):
    """Record ``function_on_attribute(getattr(layer, attribute_name))`` around each forward call.

    Args:
        attribute_name: e.g. ``'v'`` for a neuron's membrane potential.
        pre_forward: record before the forward call (e.g. ``v`` before charging) instead of after.
        net, instance: as :class:`OutputMonitor`.
        function_on_attribute: applied before recording (default identity).
    """

    def __init__(self, attribute_name: str, pre_forward: bool, net: nn.Module,
                 instance: type | tuple[type, ...] | None = None, function_on_attribute: Fn = _identity) -> None:
        super().__init__(net, instance)
        self.attribute_name = attribute_name
        self.function_on_attribute = function_on_attribute
        for name, m in self._targets:
            if pre_forward:
                self.hooks.append(m.register_forward_pre_hook(self._hook(name)))
            else:
                self.hooks.append(m.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(m, *_args):
            if not hasattr(m, self.attribute_name):
                raise AttributeError(f"AttributeMonitor: {name or type(m).__name__} has no attribute "
                                     f"{self.attribute_name!r}")
            self._record(name, self.function_on_attribute(getattr(m, self.attribute_name)))
        return hook


class GradInputMonitor(BaseMonitor):
    """Record ``function_on_grad_input(grad)``: the gradient w.r.t. each monitored layer's input (the tuple when it has
    several), during backward (a full backward hook)."""

    def __init__(self, net: nn.Module, instance: type | tuple[type, ...] | None = None,
                 function_on_grad_input: Fn = _identity) -> None:
        super().__init__(net, instance)
        self.function_on_grad_input = function_on_grad_input
        for name, m in self._targets:
            self.hooks.append(m.register_full_backward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(_m, grad_input, _grad_output):
            self._record(name, self.function_on_grad_input(_unpack_single(grad_input)))
        return hook


class GradOutputMonitor(BaseMonitor):
    """Record ``function_on_grad_output(grad)``: the gradient w.r.t. each monitored layer's output (the tuple when it
    has several), during backward."""

    def __init__(self, net: nn.Module, instance: type | tuple[type, ...] | None = None,
                 function_on_grad_output: Fn = _identity) -> None:
        super().__init__(net, instance)
        self.function_on_grad_output = function_on_grad_output
        for name, m in self._targets:
            self.hooks.append(m.register_full_backward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(_m, _grad_input, grad_output):
            self._record(name, self.function_on_grad_output(_unpack_single(grad_output)))
        return hook


def firing_rates(net: nn.Module, *inputs: Any, instance: type | tuple[type, ...] | None = None,
                 reset: bool = True) -> dict[str, float]:
    """Run ``net(*inputs)`` once (no grad) and return the mean firing rate of every spiking layer.

    Args:
        net: the network (its step mode decides how ``inputs`` are read).
        inputs: the forward inputs.
        instance: the layers to report; default every :class:`sj.neuron.BaseNode`.
        reset: reset the network state before and after the call (default ``True``).

    Returns:
        ``{layer name: mean of its outputs over time, batch and neurons}`` (spikes/step/neuron, in ``[0, 1]`` for
        spiking layers), in module order.
    """
    from sj.functional import reset_net
    from sj.neuron import BaseNode

    mon = OutputMonitor(net, instance or BaseNode, lambda s: (s.float().sum().item(), s.numel()))
    try:
        if reset:
            reset_net(net)
        with torch.no_grad():
            net(*inputs)
        out = {}
        for name in mon.monitored_layers:
            recs = mon[name]
            if recs:
                out[name] = sum(r[0] for r in recs) / max(1, sum(r[1] for r in recs))
        return out
    finally:
        mon.remove_hooks()
        if reset:
            reset_net(net)


class GPUMonitor(threading.Thread):
    """Sample GPU utilisation (%) and memory used (MiB) with ``nvidia-smi`` every ``interval`` seconds, in a daemon
    thread (SpikingJelly's ``GPUMonitor``).

    Args:
        log_dir: write TensorBoard scalars ``utilization_<gpu>`` and ``memory_used_<gpu>`` under
            ``log_dir/gpu_monitor`` (needs the ``tensorboard`` package); ``None`` logs each sample at INFO level
            (logger ``"sj.monitor"``).
        gpu_ids: the GPUs to query (``nvidia-smi -i``). Default ``(0,)``.
        interval: seconds between samples (> 0). Default 600.
        start_now: start the thread at construction (else call :meth:`start`).

    Construction raises ``RuntimeError`` when ``nvidia-smi`` is not on ``PATH`` and ``ImportError`` when ``log_dir`` is
    given without tensorboard. A failing query (non-zero exit, timeout, malformed output) stops the thread, logs the
    reason at ERROR level and keeps it in :attr:`error`. Samples are also kept in :attr:`records` as
    ``(step, gpu index, utilisation %, memory MiB)``. :meth:`stop` ends the thread at its next wait.
    """

    def __init__(self, log_dir: str | None = None, gpu_ids: tuple[int, ...] = (0,), interval: float = 600.0,
                 start_now: bool = True) -> None:
        super().__init__(daemon=True, name="sj-GPUMonitor")
        gpu_ids = tuple(gpu_ids)
        if not gpu_ids or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in gpu_ids):
            raise ValueError(f"GPUMonitor: gpu_ids must be a non-empty sequence of GPU indices ≥ 0, got {gpu_ids!r}")
        if not interval > 0:
            raise ValueError(f"GPUMonitor: interval must be > 0 seconds, got {interval!r}")
        if shutil.which("nvidia-smi") is None:
            raise RuntimeError("GPUMonitor queries GPUs with nvidia-smi, which is not on PATH (no NVIDIA driver on "
                               "this machine?)")
        self.writer = None
        if log_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(os.path.join(log_dir, "gpu_monitor"))
            except ImportError as exc:
                raise ImportError("GPUMonitor(log_dir=...) writes TensorBoard logs and needs the tensorboard package: "
                                  f"pip install tensorboard (or pass log_dir=None to log samples); {exc}") from exc
        self.log_dir, self.gpu_ids, self.interval = log_dir, gpu_ids, float(interval)
        self.command = ["nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                        "-i", ",".join(map(str, gpu_ids))]
        self.step = 0
        self.records: list[tuple[int, int, int, int]] = []
        self.error: str | None = None
        self._stop_event = threading.Event()
        if start_now:
            self.start()

    def stop(self) -> None:
        """Ask the thread to end (it ends at its next wait; ``join()`` waits for it)."""
        self._stop_event.set()

    def sample(self) -> list[tuple[int, int, int]]:
        """Query ``nvidia-smi`` once: ``[(gpu index, utilisation %, memory MiB)]``; raises ``RuntimeError`` saying
        why a query failed."""
        try:
            done = subprocess.run(self.command, check=False, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"nvidia-smi failed: {exc}") from exc
        if done.returncode:
            raise RuntimeError(done.stderr.strip() or f"nvidia-smi exited with code {done.returncode}")
        rows = [line.split(",") for line in done.stdout.strip().splitlines()]
        try:
            samples = [(int(i), int(u), int(m)) for i, u, m in rows]
        except ValueError:
            raise RuntimeError(f"malformed nvidia-smi output: {done.stdout.strip()!r}") from None
        if not samples:
            raise RuntimeError("nvidia-smi returned no data")
        return samples

    def run(self) -> None:
        writer = self.writer
        try:
            while not self._stop_event.is_set():
                try:
                    samples = self.sample()
                except RuntimeError as exc:
                    self.error = str(exc)
                    _log.error("GPUMonitor stopped: %s", exc)
                    return
                for index, utilization, memory in samples:
                    self.records.append((self.step, index, utilization, memory))
                    if writer is not None:
                        writer.add_scalar(f"utilization_{index}", utilization, self.step)
                        writer.add_scalar(f"memory_used_{index}", memory, self.step)
                if writer is None:
                    _log.info("GPU sample %d at %s: %s", self.step, datetime.datetime.now().isoformat(" ", "seconds"),
                              samples)
                self.step += 1
                if self._stop_event.wait(self.interval):
                    return
        finally:
            if writer is not None:
                writer.close()
