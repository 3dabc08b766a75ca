"""Plug-in registry: finds plug-ins through entry points (group ``sj``), loads them lazily, isolates broken ones.

Nothing here runs at ``import sj.*`` time: the first call of :func:`plugin_manager` loads the entry points. A plug-in
whose import or registration raises is recorded in :func:`plugin_status` with its error and skipped; it never breaks
the import of sj or of other plug-ins. ``SJ_DISABLE_PLUGINS=1`` (or ``all``) turns every external plug-in off;
``SJ_DISABLE_PLUGINS=name1,name2`` turns off the named entry points.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading
import traceback
from dataclasses import dataclass

import pluggy

from sj.plugins import hookspecs

GROUP = "sj"
DISABLE_ENV = "SJ_DISABLE_PLUGINS"
_BUILTIN_MODULES = ("sj.backends.torch_backend", "sj.cli.builtin_commands")


@dataclass(frozen=True)
class PluginStatus:
    """What happened to one plug-in: ``loaded`` True, or False with ``error`` saying why."""

    name: str
    source: str
    loaded: bool
    error: str | None = None


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_status: list[PluginStatus] = []


def _disabled_names() -> set[str] | None:
    """``None`` when nothing is disabled, an empty set meaning *all*, else the disabled entry-point names."""
    raw = os.environ.get(DISABLE_ENV, "").strip()
    if not raw or raw == "0":
        return None
    if raw.lower() in ("1", "all", "true", "yes"):
        return set()
    return {part.strip() for part in raw.split(",") if part.strip()}


def _register(pm: pluggy.PluginManager, name: str, source: str, load) -> None:
    try:
        plugin = load()
        pm.register(plugin, name=name)
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _status.append(PluginStatus(name, source, False, detail))
    else:
        _status.append(PluginStatus(name, source, True))


def _build() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module in _BUILTIN_MODULES:
        _register(pm, module, "sj-core (built in)", lambda m=module: importlib.import_module(m))
    disabled = _disabled_names()
    for ep in sorted(importlib.metadata.entry_points(group=GROUP), key=lambda e: e.name):
        source = f"{ep.dist.name if ep.dist else '?'} ({ep.value})"
        if disabled is not None and (not disabled or ep.name in disabled):
            _status.append(PluginStatus(ep.name, source, False, f"disabled by {DISABLE_ENV}"))
            continue
        if pm.has_plugin(ep.name) or ep.value in _BUILTIN_MODULES:
            continue
        _register(pm, ep.name, source, ep.load)
    return pm


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plug-in manager, built (entry points loaded) on first call."""
    global _manager
    with _lock:
        if _manager is None:
            _manager = _build()
        return _manager


def plugin_status() -> list[PluginStatus]:
    """One :class:`PluginStatus` per plug-in seen (built-in and entry points), in load order."""
    plugin_manager()
    return list(_status)


def collect(hook_name: str) -> list:
    """Call hook ``hook_name`` on every plug-in and flatten the returned lists.

    A plug-in whose hook raises is recorded as broken (its other contributions stay) instead of failing the call.
    """
    pm = plugin_manager()
    items: list = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        try:
            result = impl.function()
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            with _lock:
                _status.append(PluginStatus(impl.plugin_name, f"hook {hook_name}", False, detail))
            continue
        items.extend(result or [])
    return items


def reset_registry() -> None:
    """Forget every loaded plug-in so the next use re-reads the entry points (for tests and notebooks)."""
    global _manager
    with _lock:
        _manager = None
        _status.clear()
        from sj.backends import registry as backend_registry

        backend_registry.clear_cache()
