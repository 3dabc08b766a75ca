"""Look up backends contributed through the ``sj_backends`` hook and report their status."""

from __future__ import annotations

import threading
import traceback
from dataclasses import asdict, dataclass

import torch

from sj.backends.base import Backend
from sj.plugins.registry import collect, plugin_status


class BackendError(RuntimeError):
    """A backend is unknown, unavailable, or does not support the requested configuration."""


@dataclass(frozen=True)
class BackendStatus:
    """One row of :func:`status`."""

    name: str
    available: bool
    reason: str | None
    details: str
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


_lock = threading.Lock()
_backends: dict[str, Backend] | None = None


def clear_cache() -> None:
    """Forget the collected backends (the plug-in registry calls this when it is reset)."""
    global _backends
    with _lock:
        _backends = None


def backends() -> dict[str, Backend]:
    """Every registered backend by name (first registration of a name wins)."""
    global _backends
    found = _backends  # read without the lock: once collected, the dict is never changed, only replaced
    if found is not None:
        return found
    with _lock:
        if _backends is None:
            collected: dict[str, Backend] = {}
            for b in collect("sj_backends"):
                if isinstance(b, Backend) and b.name and b.name not in collected:
                    collected[b.name] = b
            _backends = collected
        return _backends


def _availability(b: Backend) -> str | None:
    try:
        return b.availability()
    except Exception as exc:
        return "availability check raised " + "".join(traceback.format_exception_only(type(exc), exc)).strip()


def status() -> list[BackendStatus]:
    """Every backend with whether it is available here and, if not, why. ``torch`` comes first."""
    rows = []
    for name, b in sorted(backends().items(), key=lambda kv: (kv[0] != "torch", kv[0])):
        reason = _availability(b)
        try:
            details = b.details()
        except Exception as exc:
            details = f"details() raised {exc!r}"
        rows.append(BackendStatus(name, reason is None, reason, details, b.description))
    return rows


def get_backend(name: str) -> Backend:
    """The backend called ``name``; raises :class:`BackendError` naming the known backends if there is none, and
    every plug-in that did not load (with its error: the backend may be one of them)."""
    found = backends()
    if name not in found:
        unloaded = [f"{p.name}: {p.error}" for p in plugin_status() if not p.loaded]
        raise BackendError(f"unknown backend {name!r}; registered backends: {sorted(found)}"
                           + (f"; plug-ins that did not load: {'; '.join(unloaded)}" if unloaded else "")
                           + " (install the plug-in package, e.g. `pip install sj-triton`, and see `sj backends`)")
    return found[name]


def unsupported_reason(name: str, spec, device: torch.device, dtype: torch.dtype) -> str | None:
    """Why backend ``name`` cannot run ``spec`` on ``device``/``dtype`` (``None`` if it can)."""
    try:
        b = get_backend(name)
    except BackendError as exc:
        return str(exc)
    reason = _availability(b)
    if reason is not None:
        return f"backend {name!r} is unavailable: {reason}"
    reason = b.supports(spec, device, dtype)
    if reason is not None:
        return f"backend {name!r} does not support {spec.describe()} on {device} {dtype}: {reason}"
    return None
