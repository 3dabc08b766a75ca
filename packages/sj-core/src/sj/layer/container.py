"""Containers that decide how their children see time.

- :class:`SeqToANNContainer`: stateless children applied once to the time-folded batch (``[T·N, *]``).
- :class:`MultiStepContainer`: single-step children looped over time.
- :class:`StepModeContainer`: either of the two, chosen by ``stateful``.
- :class:`TLastSeqToANNContainer`, :class:`TLastMultiStepContainer`: the first two for time-last ``[N, *, T]``.

Children are run one step at a time (or on the folded batch), so sj step-mode children must be in ``'s'`` mode; a
child in ``'m'`` raises :class:`~sj.base.StepModeError` naming it. Plain torch modules are always fine.
"""

from __future__ import annotations

import torch
from torch import nn

from sj.base import MemoryModule, StepModeError, StepModule
from sj.functional import multi_step_forward, seq_to_ann_forward


def _check_children_single_step(owner: nn.Module) -> None:
    for name, m in owner.named_modules():
        if m is not owner and isinstance(m, StepModule) and m.step_mode != "s":
            raise StepModeError(f"{type(owner).__name__} runs its children one step at a time, but child {name!r} "
                                f"({type(m).__name__}) has step_mode={m.step_mode!r}; set it to 's' or use a plain "
                                "torch module")


class _TimeContainer(nn.Sequential, StepModule):
    """Sequential children; in ``'m'`` they are applied to the folded batch (``fold``) or looped over time."""

    keeps_children_step_mode = True  # functional.set_step_mode leaves the single-step children alone

    def __init__(self, *modules: nn.Module, fold: bool, step_mode: str = "m") -> None:
        super().__init__(*modules)
        self._fold = fold
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_children_single_step(self)
        if self.step_mode == "s":
            return super().forward(x)
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise StepModeError(f"{type(self).__name__} in step_mode='m' needs input [T, N, *], got {shape}")
        children = list(self)
        return seq_to_ann_forward(x, children) if self._fold else multi_step_forward(x, children)

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"


class SeqToANNContainer(_TimeContainer):
    """Apply stateless modules to a sequence by folding time into the batch.

    ``[T, N, *]`` → ``[T·N, *]`` → children → ``[T, N, *']``. Stateful children (sj memory modules) are rejected at
    construction: folding time would make them see T·N independent samples. In ``'s'`` mode the children are applied
    to ``[N, *]`` directly.
    """

    def __init__(self, *modules: nn.Module, step_mode: str = "m") -> None:
        for i, m in enumerate(modules):
            for name, sub in m.named_modules():
                if isinstance(sub, MemoryModule):
                    where = f"child {i}" + (f" (sub-module {name!r})" if name else "")
                    raise TypeError(f"SeqToANNContainer folds time into the batch, so its modules must be stateless; "
                                    f"{where} is the stateful {type(sub).__name__}: use MultiStepContainer or put it "
                                    "outside")
        super().__init__(*modules, fold=True, step_mode=step_mode)


class MultiStepContainer(_TimeContainer):
    """Run single-step modules over a sequence ``[T, N, *]`` step by step (children must be in ``'s'`` mode)."""

    def __init__(self, *modules: nn.Module, step_mode: str = "m") -> None:
        super().__init__(*modules, fold=False, step_mode=step_mode)


class StepModeContainer(_TimeContainer):
    """SpikingJelly's ``StepModeContainer(stateful, step_mode='s', *modules)``: in ``'m'`` loop over time when
    ``stateful``, else fold time into the batch.

    The step mode may also be left out (``StepModeContainer(stateful, *modules)``, as SpikingJelly's tutorial writes
    it) or given by keyword; a string right after ``stateful`` is the step mode, as in SpikingJelly 2.0.
    """

    def __init__(self, stateful: bool, *modules: nn.Module | str, step_mode: str | None = None) -> None:
        if not isinstance(stateful, bool):
            raise TypeError("StepModeContainer: the first argument is `stateful` (bool), got "
                            f"{type(stateful).__name__}")
        if modules and isinstance(modules[0], str):
            if step_mode is not None:
                raise TypeError(f"StepModeContainer: step_mode given twice ({modules[0]!r} and {step_mode!r})")
            step_mode, modules = modules[0], modules[1:]
        self.stateful = stateful
        super().__init__(*modules, fold=not stateful, step_mode="s" if step_mode is None else step_mode)


class _TimeLast:
    """Time-last input ``[N, *, T]`` in 'm': moved to time-first, run by the container, moved back to ``[N, *', T]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s" or not isinstance(x, torch.Tensor):
            return super().forward(x)
        return super().forward(x.movedim(-1, 0)).movedim(0, -1)


class TLastSeqToANNContainer(_TimeLast, SeqToANNContainer):
    """:class:`SeqToANNContainer` for time-last sequences ``[N, *, T]``: the T steps are folded into the batch, the
    stateless children applied once, and the output returned time-last ``[N, *', T]``.

    SpikingJelly maps the children over the last dimension with ``torch.vmap``; folding gives the same values for
    per-sample modules and also runs BatchNorm (statistics over T·N), which ``vmap`` refuses in training.
    """


class TLastMultiStepContainer(_TimeLast, MultiStepContainer):
    """:class:`MultiStepContainer` for time-last sequences ``[N, *, T]``: single-step children run on ``x[..., t]``
    for each t, outputs stacked on the last dimension."""
