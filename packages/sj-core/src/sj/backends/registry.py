"""Look up backends contributed through the ``sj_backends`` hook and report their status."""

from __future__ import annotations

import threading
import traceback
from dataclasses import asdict, dataclass

import torch

from sj.backends.base import Backend
from sj.plugins.registry import collect, plugin_status

AUTO = "auto"  # the backend name that means: the default choice for each call (resolve)


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


_resolved: dict[tuple, str] = {}


def clear_cache() -> None:
    """Forget the collected backends and the default choices (the plug-in registry calls this when it is reset)."""
    global _backends
    with _lock:
        _backends = None
        _resolved.clear()


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
    """Why backend ``name`` cannot run ``spec`` on ``device``/``dtype`` (``None`` if it can; :data:`AUTO` can whenever
    any backend can)."""
    if name == AUTO:
        try:
            resolve(name, spec, device, dtype)
        except BackendError as exc:
            return str(exc)
        return None
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


def _default_candidates() -> list[Backend]:
    """Every registered backend in the order the default tries them: priority, then ``torch`` before others."""
    return sorted(backends().values(), key=lambda b: (-b.priority, b.name != "torch", b.name))


def default_choice(spec, device: torch.device, dtype: torch.dtype) -> tuple[str, list[str]]:
    """The backend a call with no backend named runs on, and why each backend before it in the order was passed
    over (``"name: reason"``)."""
    passed = []
    for b in _default_candidates():
        reason = unsupported_reason(b.name, spec, device, dtype)
        if reason is None:
            try:
                reason = b.default_reason(spec, device, dtype)
            except Exception as exc:  # a broken plug-in must not break every default call
                reason = f"default_reason() raised {exc!r}"
        if reason is None:
            return b.name, passed
        passed.append(f"{b.name}: {reason}")
    raise BackendError("no backend supports " + spec.describe() + f" on {device} {dtype}: " + "; ".join(passed))


def resolve(name: str, spec, device: torch.device, dtype: torch.dtype) -> str:
    """``name``, or for :data:`AUTO` the available backend of highest priority that supports the call
    (:func:`default_choice`), decided once per configuration, device type and dtype: cheap on every call, and the
    forward and the backward of one call agree."""
    if name != AUTO:
        return name
    key = (spec, device.type if isinstance(device, torch.device) else torch.device(device).type, dtype)
    found = _resolved.get(key)
    if found is None:
        found = _resolved.setdefault(key, default_choice(spec, device, dtype)[0])
    return found
