"""Step modes and state: the two base classes every sj module builds on.

- :class:`StepModule`: ``step_mode`` is ``'s'`` (one step, input ``[N, *]``) or ``'m'`` (a whole sequence,
  time-first input ``[T, N, *]``).
- :class:`MemoryModule`: a module with named state ("memories"), such as a neuron's membrane potential. Memories are
  per module instance (no class-level registries), are not in ``state_dict``, move with ``.to()``, and are restored by
  :meth:`MemoryModule.reset` (``functional.reset_net`` resets a whole tree).

Activation checkpointing recomputes a forward during backward. A stateful module's forward reads its state, which by
then is the state a later call left, not the one the original call started from: plain ``torch.utils.checkpoint``
around a neuron would silently give wrong gradients. A :class:`MemoryModule` therefore refuses to run during a backward
pass (:class:`StateRecomputeError`) unless its state was set in that same pass (by ``reset`` or an assignment, as
:class:`sj.training.TimeCheckpoint` does, or as a checkpointed function does that calls ``reset_net`` first).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
from torch import nn

STEP_MODES = ("s", "m")

_check_finite = os.environ.get("SJ_CHECK_FINITE", "0") == "1"


def set_check_finite(enabled: bool) -> bool:
    """Turn the finite-input check of neurons on or off; returns the previous setting.

    Off by default (it costs one pass over every input and a host sync): NaN and ±inf then propagate into the
    membrane (IEEE), visible in ``v`` and the loss, never replaced. On (or ``SJ_CHECK_FINITE=1``), a neuron fed a
    non-finite value raises ``ValueError`` naming the module and the first bad index, before any state changes.
    Skipped while ``torch.compile`` traces (a data-dependent check would break the graph).
    """
    global _check_finite
    previous, _check_finite = _check_finite, bool(enabled)
    return previous


def check_finite_enabled() -> bool:
    """Whether :func:`set_check_finite` is on."""
    return _check_finite


class StepModeError(ValueError):
    """A module got a step mode it does not support, or input of the wrong rank for its step mode."""


class StateShapeError(RuntimeError):
    """A stateful module received input whose shape does not match the state left by the previous call."""


class StaleStateError(RuntimeError):
    """A stateful module's state was made under ``torch.inference_mode()`` and a call autograd records reads it."""


class StateRecomputeError(RuntimeError):
    """A stateful module ran during a backward pass (activation checkpointing recomputing it) from a state that was not
    set in that pass: the recomputation would start from the wrong state and give wrong gradients."""


# The id of the backward pass (autograd graph task) running in this thread, -1 outside one.
_backward_pass = torch._C._current_graph_task_id


def check_state_recordable(owner: str, name: str, state: Any, *inputs: Any) -> None:
    """Raise :class:`StaleStateError` when ``state`` is an inference-mode tensor (an evaluation pass under
    ``torch.inference_mode()`` not followed by ``reset_net``) and autograd records this call (one of ``inputs``
    requires grad): torch's own error comes from deep inside an op and names neither the module nor the state.
    Skipped while torch.compile traces (Dynamo cannot trace ``is_inference``)."""
    if (isinstance(state, torch.Tensor) and not torch.compiler.is_compiling() and state.is_inference()
            and torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs)):
        raise StaleStateError(f"{owner}: state {name!r} was made under torch.inference_mode() by an earlier call and "
                              "cannot enter this call, which autograd records; call sj.functional.reset_net(net) "
                              "after evaluating under inference_mode")


class StepModule:
    """Mixin holding a validated ``step_mode``."""

    def supported_step_modes(self) -> tuple[str, ...]:
        return STEP_MODES

    @property
    def step_mode(self) -> str:
        return self._step_mode

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        if value not in self.supported_step_modes():
            raise StepModeError(f"{type(self).__name__} supports step modes {self.supported_step_modes()}, "
                                f"got {value!r}")
        self._step_mode = value


_IMMUTABLE = frozenset((int, float, bool, str, type(None)))


class MemoryModule(nn.Module, StepModule):
    """A stateful module with named memories.

    Subclasses call :meth:`register_memory` in ``__init__`` and implement :meth:`single_step_forward`; the default
    :meth:`multi_step_forward` loops it over time (neurons override it with the fused multi-step op).

    Under activation checkpointing (``torch.utils.checkpoint``, which runs the forward again during backward), a call
    raises :class:`StateRecomputeError` unless the module's memories were set (:meth:`reset`, or assigned) during that
    same backward pass: the memories it holds then are those its last call left, not those the recomputed call started
    from. :class:`sj.training.TimeCheckpoint` passes them in explicitly; so does a checkpointed function that starts
    with ``sj.functional.reset_net``. ``recomputes_from_any_state``: a subclass whose memory stays the same through a
    sequence (``Dropout``'s mask) recomputes correctly from whatever it holds, and sets it ``True``.
    """

    recomputes_from_any_state = False

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self._memories: dict[str, Any] = {}
        self._memories_rv: dict[str, Any] = {}
        self._set_in_pass = -1  # the backward pass (graph task id) in which the memories were last set, -1: none
        self.step_mode = step_mode

    def register_memory(self, name: str, value: Any) -> None:
        """Declare memory ``name`` with reset value ``value`` (a number, a tensor or ``None``)."""
        if hasattr(self, name) and name not in self._memories:
            raise AttributeError(f"{type(self).__name__} already has an attribute {name!r}")
        self._memories[name] = value
        self._memories_rv[name] = copy.deepcopy(value)

    def memories(self):
        """``(name, value)`` pairs of the current memories."""
        return iter(self._memories.items())

    def reset(self) -> None:
        """Restore every memory to its reset value."""
        for k, v in self._memories_rv.items():
            # numbers and None are immutable: only other values (tensors) need a copy (reset runs every batch)
            self._memories[k] = v if type(v) in _IMMUTABLE else copy.deepcopy(v)
        if torch.is_grad_enabled() and not torch.compiler.is_compiling():  # see __setattr__
            self.__dict__["_set_in_pass"] = _backward_pass()

    def detach(self) -> None:
        """Detach tensor memories from the autograd graph (truncated BPTT)."""
        for k, v in self._memories.items():
            if isinstance(v, torch.Tensor):
                self._memories[k] = v.detach()

    def __getattr__(self, name: str):
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            return memories[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            memories[name] = value
            # inline: neurons set their state on every call. Recomputations run with grad enabled; a state set under
            # no_grad is not noted (a no_grad call never reaches the check)
            if torch.is_grad_enabled() and not torch.compiler.is_compiling():
                self.__dict__["_set_in_pass"] = _backward_pass()
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__.get("_memories", {}):
            del self._memories[name]
            del self._memories_rv[name]
        else:
            super().__delattr__(name)

    def _apply(self, fn, recurse: bool = True):
        for store in (self._memories, self._memories_rv):
            for k, v in store.items():
                if isinstance(v, torch.Tensor):
                    store[k] = fn(v)
        return super()._apply(fn, recurse)

    def __deepcopy__(self, memo):
        """A copy whose memories hold the same values; a memory in the middle of an autograd graph (after a call
        that autograd recorded) is copied detached, as ``torch.save`` stores it: a graph cannot be copied, and torch
        refuses to deep-copy such a tensor."""
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            if k == "_memories":
                v = {name: m.detach() if isinstance(m, torch.Tensor) and m.grad_fn is not None else m
                     for name, m in v.items()}
            new.__dict__[k] = copy.deepcopy(v, memo)
        return new

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"

    def single_step_forward(self, x: torch.Tensor, *args, **kwargs):
        raise NotImplementedError

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        """Loop :meth:`single_step_forward` over the first dimension and stack the outputs."""
        return torch.stack([self.single_step_forward(x, *args, **kwargs) for x in x_seq])

    def forward(self, *args, **kwargs):
        if torch.is_grad_enabled() and not torch.compiler.is_compiling():
            running = _backward_pass()
            if running != -1:
                self._check_recompute(running)
        if self.step_mode == "s":
            return self.single_step_forward(*args, **kwargs)
        return self.multi_step_forward(*args, **kwargs)

    def _check_recompute(self, running: int) -> None:
        """Raise :class:`StateRecomputeError` for a call during the backward pass ``running`` (its graph task id),
        unless it may run (class docstring)."""
        if self.__dict__.get("_set_in_pass", -1) != running and not self.recomputes_from_any_state:
            raise StateRecomputeError(
                f"{type(self).__name__}: called during a backward pass (activation checkpointing recomputing it?) "
                "with the state its last call left, not the state the original call started from, so the "
                "recomputed gradients would be wrong. Checkpoint stateful networks with "
                "sj.training.TimeCheckpoint(net, segment_length) (segment_length >= T checkpoints the whole "
                "sequence at once), or start the checkpointed function with sj.functional.reset_net")
