"""Network-wide state and configuration helpers (SpikingJelly-compatible names)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from sj.backends.registry import BackendError, unsupported_reason
from sj.base import MemoryModule, StepModeError, StepModule


def reset_net(net: nn.Module) -> None:
    """Reset the state of every stateful module in ``net`` (and only in ``net``)."""
    for m in net.modules():
        if isinstance(m, MemoryModule):
            m.reset()


def detach_net(net: nn.Module) -> None:
    """Detach the state of every stateful module in ``net`` from the autograd graph (truncated BPTT)."""
    for m in net.modules():
        if isinstance(m, MemoryModule):
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


def multi_step_forward(x_seq: torch.Tensor, single_step_module: nn.Module | Sequence[nn.Module]) -> torch.Tensor:
    """Apply single-step module(s) to every step of ``x_seq`` ``[T, N, *]`` and stack: ``[T, N, *]``."""
    if x_seq.dim() < 2:
        raise StepModeError(f"multi_step_forward needs input [T, N, *], got shape {tuple(x_seq.shape)}")
    mods = list(single_step_module) if isinstance(single_step_module, (list, tuple, nn.Sequential)) \
        else [single_step_module]
    outs = []
    for x in x_seq:
        for m in mods:
            x = m(x)
        outs.append(x)
    return torch.stack(outs)


def seq_to_ann_forward(x_seq: torch.Tensor, stateless_module: Callable | Sequence[Callable]) -> torch.Tensor:
    """Fold time into batch (``[T, N, *]`` → ``[T·N, *]``), apply stateless module(s) once, unfold."""
    if x_seq.dim() < 2:
        raise StepModeError(f"seq_to_ann_forward needs input [T, N, *], got shape {tuple(x_seq.shape)}")
    T, N = x_seq.shape[:2]
    y = x_seq.flatten(0, 1)
    for m in (stateless_module if isinstance(stateless_module, (list, tuple, nn.Sequential)) else [stateless_module]):
        y = m(y)
    return y.view(T, N, *y.shape[1:])
