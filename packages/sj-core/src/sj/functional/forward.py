"""Run single-step or stateless modules over sequences (time-first ``[T, N, *]`` or time-last ``[N, *, T]``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from sj.base import StepModeError

Modules = nn.Module | Callable | Sequence[Callable]


def _apply(x: torch.Tensor | tuple[torch.Tensor, ...], modules: Modules):
    """Call ``modules`` on ``x`` (a tuple is spread as positional arguments); a list or tuple of modules runs in
    order, each taking the previous output."""
    args = x if isinstance(x, tuple) else (x,)
    if isinstance(modules, (list, tuple)):
        for m in modules:
            args = (m(*args),)
        return args[0]
    return modules(*args)


def _check(owner: str, x_seq, layout: str) -> None:
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{owner}: x_seq must be a tensor {layout}, got {type(x_seq).__name__}")
    if x_seq.dim() < 2:
        raise StepModeError(f"{owner} needs input {layout}, got shape {tuple(x_seq.shape)}")


def multi_step_forward(x_seq: torch.Tensor, single_step_module: Modules) -> torch.Tensor:
    """Apply single-step module(s) to every step of ``x_seq`` ``[T, N, *]`` and stack the outputs: ``[T, N, *]``.

    ``single_step_module``: a module or callable, or a list/tuple of them applied in order at each step.
    """
    _check("multi_step_forward", x_seq, "[T, N, *]")
    return torch.stack([_apply(x, single_step_module) for x in x_seq])


def t_last_multi_step_forward(x_seq: torch.Tensor, single_step_module: Modules) -> torch.Tensor:
    """:func:`multi_step_forward` for time-last sequences ``[N, *, T]`` → ``[N, *, T]``."""
    _check("t_last_multi_step_forward", x_seq, "[N, *, T]")
    return torch.stack([_apply(x_seq.select(-1, t), single_step_module) for t in range(x_seq.shape[-1])], dim=-1)


def chunk_multi_step_forward(split_size: int, x_seq: torch.Tensor, multi_step_module: nn.Module) -> torch.Tensor:
    """Feed ``x_seq`` ``[T, *]`` to a multi-step module in chunks of ``split_size`` steps (the last may be shorter)
    and concatenate the outputs along time: ``[T, *]``. Stateful modules carry their state across chunks, so the
    result equals one call on the whole sequence; with no gradient (e.g. ANN→SNN inference at large T) memory is
    bounded by one chunk."""
    if isinstance(split_size, bool) or not isinstance(split_size, int) or split_size < 1:
        raise ValueError(f"chunk_multi_step_forward: split_size must be an int >= 1, got {split_size!r}")
    _check("chunk_multi_step_forward", x_seq, "[T, N, *]")
    return torch.cat([multi_step_module(x) for x in torch.split(x_seq, split_size)])


def _fold(owner: str, x_seq: torch.Tensor | tuple[torch.Tensor, ...]):
    """``[T, N, *]`` (or a tuple of such, sharing ``T, N``) → ``[T·N, *]`` and ``(T, N)``."""
    items = x_seq if isinstance(x_seq, tuple) else (x_seq,)
    for t in items:
        _check(owner, t, "[T, N, *]")
    lead = items[0].shape[:2]
    if any(t.shape[:2] != lead for t in items[1:]):
        raise ValueError(f"{owner}: all tensors of x_seq must share [T, N], got {[tuple(t.shape) for t in items]}")
    flat = tuple(t.flatten(0, 1) for t in items)
    return (flat if isinstance(x_seq, tuple) else flat[0]), tuple(lead)


def _unfold(y, lead: tuple[int, int]):
    return tuple(t.unflatten(0, lead) for t in y) if isinstance(y, tuple) else y.unflatten(0, lead)


def seq_to_ann_forward(x_seq: torch.Tensor | tuple[torch.Tensor, ...],
                       stateless_module: Modules) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Fold time into batch (``[T, N, *]`` → ``[T·N, *]``), apply stateless module(s) once, unfold: ``[T, N, *]``.

    ``x_seq`` may be a tuple of tensors sharing ``[T, N]`` (e.g. pooled values and their indices), passed to the first
    module as positional arguments; a tuple output is unfolded element by element.
    """
    x, lead = _fold("seq_to_ann_forward", x_seq)
    return _unfold(_apply(x, stateless_module), lead)


def t_last_seq_to_ann_forward(x_seq: torch.Tensor,
                              stateless_module: Modules) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """:func:`seq_to_ann_forward` for time-last sequences ``[N, *, T]`` → ``[N, *, T]``: every step goes through the
    module(s) independently (SpikingJelly maps over the last dimension with ``torch.vmap``; sj folds time into the
    batch, which is the same for stateless modules). Not for modules with batch statistics (BatchNorm)."""
    _check("t_last_seq_to_ann_forward", x_seq, "[N, *, T]")
    y = seq_to_ann_forward(x_seq.movedim(-1, 0), stateless_module)  # [T, N, *]
    return tuple(t.movedim(0, -1) for t in y) if isinstance(y, tuple) else y.movedim(0, -1)
