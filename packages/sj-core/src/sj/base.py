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
from collections.abc import Callable
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
    """Mixin holding a validated ``step_mode``.

    A subclass restricts the modes by overriding :meth:`supported_step_mode` (SpikingJelly's name) or
    :meth:`supported_step_modes`; a module that never set a mode runs in the first mode it supports.
    """

    def supported_step_mode(self) -> tuple[str, ...]:
        """The step modes this module supports (SpikingJelly's name)."""
        return STEP_MODES

    def supported_step_modes(self) -> tuple[str, ...]:
        """The step modes this module supports."""
        return self.supported_step_mode()

    @property
    def step_mode(self) -> str:
        mode = self.__dict__.get("_step_mode")
        return mode if mode is not None else self.supported_step_modes()[0]

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        if value not in self.supported_step_modes():
            raise StepModeError(f"{type(self).__name__} supports step modes {self.supported_step_modes()}, "
                                f"got {value!r}")
        self._step_mode = value


class SingleStepModule(StepModule):
    """A module that runs one time step per call only (``step_mode`` ``'s'``)."""

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("s",)


class MultiStepModule(StepModule):
    """A module that takes whole sequences ``[T, N, *]`` only (``step_mode`` ``'m'``)."""

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)


_IMMUTABLE = frozenset((int, float, bool, str, type(None)))


class MemoryModule(nn.Module, StepModule):
    """A stateful module with named memories.

    Subclasses call :meth:`register_memory` in ``__init__`` and define one step, in either of two ways:

    - override :meth:`single_step_forward` (the default :meth:`multi_step_forward` then loops it over time), or
    - implement SpikingJelly 2.0's explicit-state protocol :meth:`single_step_functional_forward` ``(inputs, states)
      → (outputs, new_states)`` (and optionally :meth:`multi_step_functional_forward` and
      :meth:`materialize_states`); the module's forward then passes its memories in and stores what comes back, and
      :func:`to_functional_forward` can run it without touching them.

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
        self.set_reset_value(name, value)

    def set_reset_value(self, name: str, value: Any) -> None:
        """Make ``value`` (copied) what :meth:`reset` restores memory ``name`` to."""
        self._memories_rv[name] = copy.deepcopy(value)

    def get_reset_value(self, name: str) -> Any:
        """The value :meth:`reset` restores memory ``name`` to; ``KeyError`` if there is no such memory."""
        if name not in self._memories:
            raise KeyError(f"{type(self).__name__}: {name!r} is not a memory (memories: {list(self._memories)})")
        return self._memories_rv[name]

    def memories(self):
        """The current values of the memories, in registration order."""
        return iter(self._memories.values())

    def named_memories(self):
        """``(name, value)`` pairs of the current memories, in registration order."""
        return iter(self._memories.items())

    def reset(self) -> None:
        """Restore every memory to its reset value."""
        for k, v in self._memories_rv.items():
            # numbers and None are immutable: only other values (tensors) need a copy (reset runs every batch)
            self._memories[k] = v if type(v) in _IMMUTABLE else copy.deepcopy(v)
        self._note_state_set()

    def detach(self) -> None:
        """Detach tensor memories from the autograd graph (truncated BPTT)."""
        for k, v in self._memories.items():
            if isinstance(v, torch.Tensor):
                self._memories[k] = v.detach()

    def _note_state_set(self) -> None:
        # Recomputations run with grad enabled; a state set under no_grad is not noted (a no_grad call never reaches
        # the recompute check)
        if torch.is_grad_enabled() and not torch.compiler.is_compiling():
            self.__dict__["_set_in_pass"] = _backward_pass()

    def __getattr__(self, name: str):
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            return memories[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            memories[name] = value
            # inline (see _note_state_set): neurons set their state on every call
            if torch.is_grad_enabled() and not torch.compiler.is_compiling():
                self.__dict__["_set_in_pass"] = _backward_pass()
        else:
            self._set_attribute(name, value)

    def _set_attribute(self, name: str, value) -> None:
        """Set an attribute that is not a memory, by nn.Module's rules; a subclass validating its own values hooks
        here, so memory writes (every step) keep the short path above."""
        nn.Module.__setattr__(self, name, value)

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

    # ------------------------------------------------------------------------------------ explicit-state protocol
    def runs_functionally(self) -> bool:
        """Whether :meth:`functional_forward` computes what ``forward`` does, so :func:`to_functional_forward` can run
        the module without touching its memories: it defines the explicit-state protocol (or, in step mode ``'m'``,
        its multi-step form)."""
        cls = type(self)
        return (cls.functional_forward is not MemoryModule.functional_forward
                or cls.single_step_functional_forward is not MemoryModule.single_step_functional_forward
                or (self.step_mode == "m"
                    and cls.multi_step_functional_forward is not MemoryModule.multi_step_functional_forward))

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        """Turn the stored memories ``states`` into the values one call starts from (e.g. a number into a tensor of
        the input's shape); ``inputs`` are the call's inputs (``[T, N, *]`` in ``'m'``). Default: unchanged."""
        return states

    def single_step_functional_forward(self, inputs: tuple[torch.Tensor, ...], states: tuple, **kwargs
                                       ) -> tuple[tuple[torch.Tensor, ...], tuple]:
        """One step with explicit state: ``(outputs, new_states)``, one new state per memory, in registration order.
        Must not change the module's memories or ``states``."""
        raise NotImplementedError(f"{type(self).__name__} implements neither single_step_forward nor "
                                  "single_step_functional_forward")

    def multi_step_functional_forward(self, inputs: tuple[torch.Tensor, ...], states: tuple, **kwargs
                                      ) -> tuple[tuple[torch.Tensor, ...], tuple]:
        """A whole sequence with explicit state (inputs ``[T, N, *]``): loops
        :meth:`single_step_functional_forward` and stacks each output over time."""
        steps = []
        for t in range(inputs[0].shape[0]):
            outputs, states = self.single_step_functional_forward(tuple(x[t] for x in inputs), states, **kwargs)
            steps.append(outputs)
        return tuple(torch.stack(seq) for seq in zip(*steps, strict=True)), states

    def functional_forward(self, inputs: tuple[torch.Tensor, ...], states: tuple, **kwargs
                           ) -> tuple[tuple[torch.Tensor, ...], tuple]:
        """One call in the current step mode with explicit state: ``(outputs, new_states)``; the module's memories
        are neither read nor changed."""
        states = self.materialize_states(inputs, tuple(states), self.step_mode)
        if self.step_mode == "s":
            return self.single_step_functional_forward(inputs, states, **kwargs)
        return self.multi_step_functional_forward(inputs, states, **kwargs)

    def _run_functional(self, inputs: tuple, kwargs: dict, multi: bool):
        states = self.materialize_states(inputs, tuple(self._memories.values()), "m" if multi else "s")
        step = self.multi_step_functional_forward if multi else self.single_step_functional_forward
        outputs, new_states = step(inputs, states, **kwargs)
        self._store_states(new_states, "multi_step_functional_forward" if multi else "single_step_functional_forward")
        return outputs[0] if len(outputs) == 1 else outputs

    def _store_states(self, states: tuple, where: str) -> None:
        if len(states) != len(self._memories):
            raise ValueError(f"{type(self).__name__}.{where} returned {len(states)} states, but the module has "
                             f"{len(self._memories)} memories {list(self._memories)}")
        for name, value in zip(list(self._memories), states):
            self._memories[name] = value
        self._note_state_set()

    def single_step_forward(self, x: torch.Tensor, *args, **kwargs):
        """One step ``[N, *]``: by default through :meth:`single_step_functional_forward` on the memories."""
        return self._run_functional((x, *args), kwargs, multi=False)

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        """A sequence ``[T, N, *]``: through :meth:`multi_step_functional_forward` when the class defines its step
        that way, else :meth:`single_step_forward` looped over the first dimension, outputs stacked over time."""
        cls = type(self)
        if (cls.single_step_forward is MemoryModule.single_step_forward
                or cls.multi_step_functional_forward is not MemoryModule.multi_step_functional_forward):
            return self._run_functional((x_seq, *args), kwargs, multi=True)
        steps = [self.single_step_forward(x, *(a[t] for a in args), **kwargs) for t, x in enumerate(x_seq)]
        if isinstance(steps[0], tuple | list):
            return tuple(torch.stack(seq) for seq in zip(*steps, strict=True))
        return torch.stack(steps)

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


# ---------------------------------------------------------------------------------------------- whole networks
def named_memories(module: nn.Module, prefix: str = ""):
    """``(qualified name, value)`` of every memory in ``module``'s tree (e.g. ``'1.v'``), in module order."""
    if isinstance(module, MemoryModule):
        for name, value in module.named_memories():
            yield (f"{prefix}.{name}" if prefix else name), value
    for child_name, child in module.named_children():
        yield from named_memories(child, f"{prefix}.{child_name}" if prefix else child_name)


def memories(module: nn.Module):
    """The value of every memory in ``module``'s tree, in the order of :func:`named_memories`."""
    return (value for _, value in named_memories(module))


def extract_memories(module: nn.Module) -> list:
    """A list of every memory value in ``module``'s tree (for :func:`load_memories`)."""
    return list(memories(module))


def load_memories(module: nn.Module, memory_list: list) -> None:
    """Set every memory in ``module``'s tree from ``memory_list`` (as :func:`extract_memories` made it)."""
    owners = [(m, name) for m in _memory_modules(module) for name in m._memories]
    if len(owners) != len(memory_list):
        raise ValueError(f"load_memories: {type(module).__name__} has {len(owners)} memories but the list holds "
                         f"{len(memory_list)}")
    for (m, name), value in zip(owners, memory_list):
        setattr(m, name, value)


def _memory_modules(module: nn.Module) -> list[MemoryModule]:
    # the order of named_memories: a module's own memories, then its children's (depth first)
    out = [module] if isinstance(module, MemoryModule) else []
    for child in module.children():
        out += _memory_modules(child)
    return out


def to_functional_forward(module: nn.Module, fn: Callable | None = None) -> Callable:
    """A function ``f(inputs, states, **kwargs) -> (outputs, new_states)`` running ``module`` (or ``fn``, a function
    of the module's inputs) with explicit state: ``states`` is a tuple with one value per memory of the tree (the
    order of :func:`extract_memories`), ``inputs`` and ``outputs`` are tuples.

    A stateful module that defines the explicit-state protocol, or an ``nn.Sequential`` whose stateful children all
    do, is run through it without touching any memory; anything else runs its ``forward`` with ``states`` loaded into
    its memories, which are put back afterwards.
    """
    stateful = _memory_modules(module)
    count = sum(len(m._memories) for m in stateful)

    def checked(states: tuple) -> tuple:
        states = tuple(states)
        if len(states) != count:
            raise ValueError(f"{type(module).__name__} expects {count} states, got {len(states)}")
        return states

    if fn is None and isinstance(module, MemoryModule) and len(stateful) == 1 and module.runs_functionally():
        return lambda inputs, states, **kwargs: module.functional_forward(tuple(inputs), checked(states), **kwargs)
    plain_sequential = isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward
    if fn is None and plain_sequential and all(
            m.runs_functionally() and m in module._modules.values() for m in stateful):
        return lambda inputs, states, **kwargs: _sequential_functional(module, tuple(inputs), checked(states), kwargs)
    run = fn if fn is not None else module

    def substituted(inputs, states, **kwargs):
        states = checked(states)
        saved = extract_memories(module)
        load_memories(module, list(states))
        try:
            out = run(*inputs, **kwargs)
            new_states = tuple(extract_memories(module))
        finally:
            load_memories(module, saved)
        return (tuple(out) if isinstance(out, tuple | list) else (out,)), new_states

    return substituted


def _sequential_functional(seq: nn.Sequential, inputs: tuple, states: tuple, kwargs: dict) -> tuple:
    outputs, new_states, offset = inputs, [], 0
    for i, child in enumerate(seq._modules.values()):
        child_kwargs = kwargs if i == 0 else {}
        if isinstance(child, MemoryModule):
            n = len(child._memories)
            outputs, child_states = child.functional_forward(outputs, states[offset:offset + n], **child_kwargs)
            new_states += child_states
            offset += n
        else:
            out = child(*outputs, **child_kwargs)
            outputs = tuple(out) if isinstance(out, tuple | list) else (out,)
    return outputs, tuple(new_states)
