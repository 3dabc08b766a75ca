"""Choose the fastest backend for a network, generically: every available backend that supports all of the
network's neurons on its device and dtype is timed on a real training step (forward + backward) of a copy of the
network, and the fastest wins. No backend is named or preferred in code."""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

from sj.backends.registry import status, unsupported_reason
from sj.functional import reset_net, set_backend
from sj.neuron import BaseNode


def supported_backends(net: nn.Module, device: torch.device, dtype: torch.dtype) -> dict[str, str | None]:
    """``{backend name: None if it runs every neuron of net on device/dtype, else the first reason it does not}``
    for every registered backend (``torch`` first)."""
    specs = [m.spec() for m in net.modules() if isinstance(m, BaseNode)]
    out: dict[str, str | None] = {}
    for row in status():
        out[row.name] = (f"unavailable: {row.reason}" if not row.available
                         else next((r for s in specs if (r := unsupported_reason(row.name, s, device, dtype))), None))
    return out


def time_training_step(net: nn.Module, sample: torch.Tensor, repeats: int = 3) -> float:
    """Median seconds of one forward + backward of ``net(sample).sum()`` (after one warm-up call)."""
    times = []
    for i in range(repeats + 1):
        reset_net(net)
        if sample.is_cuda:
            torch.cuda.synchronize(sample.device)
        t0 = time.perf_counter()
        net(sample).sum().backward()
        if sample.is_cuda:
            torch.cuda.synchronize(sample.device)
        if i:
            times.append(time.perf_counter() - t0)
    reset_net(net)
    return sorted(times)[len(times) // 2]


def fastest_backend(net: nn.Module, sample: torch.Tensor, repeats: int = 3) -> tuple[str, dict[str, float | str]]:
    """Time every supporting backend on a copy of ``net`` and return ``(fastest name, {name: seconds or reason})``.

    ``net`` itself is not changed (call :func:`sj.functional.set_backend` with the result).
    """
    ref = next((p for p in net.parameters()), sample)
    report: dict[str, float | str] = {}
    for name, reason in supported_backends(net, ref.device, ref.dtype).items():
        if reason is not None:
            report[name] = reason
            continue
        probe = copy.deepcopy(net)
        set_backend(probe, name)
        try:
            report[name] = time_training_step(probe, sample, repeats)
        except Exception as exc:  # a backend that claims support but fails is reported, never silently used
            report[name] = f"failed: {type(exc).__name__}: {exc}"
    timed = {k: v for k, v in report.items() if isinstance(v, float)}
    if not timed:
        raise RuntimeError(f"no backend can run this network: {report}")
    return min(timed, key=timed.get), report
