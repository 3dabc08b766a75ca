"""Network-wide state and configuration helpers (SpikingJelly-compatible names)."""

from __future__ import annotations

import warnings

from torch import nn

from sj.backends.registry import BackendError, unsupported_reason
from sj.base import MemoryModule, StepModeError, StepModule


def _has_own(m: nn.Module, name: str) -> bool:
    """Whether ``m`` has a callable ``name`` of its own: not one a wrapper forwards from the module it wraps (torch's
    ``CheckpointWrapper`` forwards unknown attributes), which is called as that module's, once."""
    method = getattr(m, name, None)
    owner = getattr(method, "__self__", m)
    return callable(method) and (owner is m or not isinstance(owner, nn.Module))


def collect_reset_modules(net: nn.Module) -> tuple[nn.Module, ...]:
    """The modules of ``net`` (itself included) that have a callable ``reset()`` of their own (not one forwarded
    from a wrapped module), in ``net.modules()`` order."""
    return tuple(m for m in net.modules() if _has_own(m, "reset"))


def reset_collected_modules(modules: tuple[nn.Module, ...]) -> None:
    """Call ``reset()`` on each module (as collected by :func:`collect_reset_modules`); a module that is not a
    :class:`~sj.base.MemoryModule` is reset too, with a warning naming it."""
    for m in modules:
        if not isinstance(m, MemoryModule):
            warnings.warn(f"reset_net: calling reset() of {type(m).__name__}, which is not an sj MemoryModule",
                          stacklevel=3)
        m.reset()


def invalidate_reset_cache(net: nn.Module) -> None:
    """Accepted for SpikingJelly compatibility; nothing to do in sj.

    SpikingJelly caches the list of resettable modules per network on the first ``reset_net`` and needs this call
    after the network's structure changes (or it silently skips new modules). sj's :func:`reset_net` walks the
    network on every call (microseconds), so it never holds a stale list and there is no cache to clear.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"invalidate_reset_cache: net must be an nn.Module, got {type(net).__name__}")


def reset_net(net: nn.Module) -> None:
    """Reset the state of every module in ``net`` (and only in ``net``) that has a ``reset()`` method: every
    :class:`~sj.base.MemoryModule` (neurons, stateful layers, learners), and, with a warning, any other module that
    defines ``reset()`` (as SpikingJelly does). The network is walked on every call, so modules added or replaced since
    the previous call are reset too."""
    reset_collected_modules(collect_reset_modules(net))


def detach_net(net: nn.Module) -> None:
    """Detach the state of every stateful module in ``net`` from the autograd graph (truncated BPTT): ``detach()``
    of every :class:`~sj.base.MemoryModule` and, with a warning, of any other module that defines ``detach()``."""
    for m in net.modules():
        if isinstance(m, MemoryModule):
            m.detach()
        elif _has_own(m, "detach"):
            warnings.warn(f"detach_net: calling detach() of {type(m).__name__}, which is not an sj MemoryModule",
                          stacklevel=2)
            m.detach()


def _step_modules(m: nn.Module):
    """Step-mode modules of ``m``'s tree, not descending into containers that run their children step by step."""
    if isinstance(m, StepModule):
        yield m
    if getattr(m, "keeps_children_step_mode", False):
        return
    for child in m.children():
        yield from _step_modules(child)


def set_step_mode(net: nn.Module, step_mode: str) -> None:
    """Set ``step_mode`` (``'s'`` or ``'m'``) on every step-mode module in ``net``.

    Children of containers that run them one step at a time (``keeps_children_step_mode``: the time containers and
    recurrent containers of :mod:`sj.layer`) keep their mode. Raises :class:`~sj.base.StepModeError` naming the
    first module that does not support ``step_mode`` (nothing is changed then).
    """
    mods = list(_step_modules(net))
    for m in mods:
        if step_mode not in m.supported_step_modes():
            raise StepModeError(f"{type(m).__name__} does not support step_mode={step_mode!r}; nothing was changed")
    for m in mods:
        m.step_mode = step_mode


def set_backend(net: nn.Module, backend: str, instance: type | tuple[type, ...] = nn.Module,
                skip_unsupported: bool = False) -> list[str]:
    """Set ``backend`` on every neuron in ``net`` (optionally only instances of ``instance``).

    Each neuron is checked against what the backend declares it supports (neuron, surrogate, device and dtype of the
    neuron's parameters). An unsupported neuron raises :class:`~sj.backends.registry.BackendError` naming it and the
    reason, and nothing is changed — unless ``skip_unsupported``, which keeps such neurons on their current backend.

    Returns the names of the modules left unchanged (empty unless ``skip_unsupported``).
    """
    from sj.neuron.node import BaseNode

    targets, skipped = [], []
    for name, m in net.named_modules():
        if not isinstance(m, BaseNode) or not isinstance(m, instance) or m.decl is None:
            continue  # a neuron without a declaration runs its torch step whatever the backend
        ref = m.v_threshold
        reason = unsupported_reason(backend, m.spec(), ref.device, ref.dtype)
        if reason is not None:
            if not skip_unsupported:
                raise BackendError(f"{name or type(m).__name__}: {reason}; nothing was changed "
                                   "(pass skip_unsupported=True to keep such neurons on their backend)")
            skipped.append(name)
            continue
        targets.append(m)
    for m in targets:
        m.backend = backend
    return skipped
