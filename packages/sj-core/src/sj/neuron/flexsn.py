"""FlexSN (SpikingJelly 2.0): a neuron from a Python step function ``core(*inputs, *states, *static_inputs) ->
(*outputs, *new_states)``, run over time by a torch loop (autograd differentiates it). For a neuron that fits the
declaration form, :func:`~sj.neuron.declaration.declare` gives fused kernels on every backend instead."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from sj.base import MemoryModule, StepModeError


def _as_tuple(value) -> tuple:
    return (value,) if isinstance(value, torch.Tensor) else tuple(value)


def _count_inputs(core: Callable, num_states: int, num_static: int) -> int:
    params = inspect.signature(core).parameters.values()
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params):
        raise TypeError("FlexSN core cannot take *args: its inputs are counted from its signature")
    positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    n = positional - num_states - num_static
    if n <= 0:
        raise ValueError(f"FlexSN core takes {positional} positional arguments: {num_states} states and "
                         f"{num_static} static inputs leave no step input")
    return n


class FlexSN(MemoryModule):
    """A neuron defined by ``core`` with ``num_states`` states (memories ``_state_0`` …, zeros at the start) and
    constant tensors ``static_inputs`` (``nn.Parameter`` ones are learned, others are buffers).

    Every input, state and output of a step has the same number of elements, dtype and device; a static input has
    one element or as many. ``forward(*inputs)`` returns the outputs (one tensor, or a tuple); in ``'m'`` every input
    is ``[T, ...]`` and ``store_state_seqs`` keeps ``state_seqs`` (one ``[T, ...]`` per state).
    """

    def __init__(self, core: Callable, num_states: int, static_inputs: tuple[torch.Tensor, ...] = (),
                 step_mode: str = "m", store_state_seqs: bool = False) -> None:
        if not callable(core):
            raise TypeError("FlexSN core must be callable")
        if isinstance(num_states, bool) or not isinstance(num_states, int) or num_states < 0:
            raise ValueError(f"FlexSN num_states must be a non-negative integer, got {num_states!r}")
        super().__init__(step_mode)
        self.core, self.num_states = core, num_states
        self._static_input_names = tuple(f"_static_input_{i}" for i in range(len(static_inputs)))
        for name, t in zip(self._static_input_names, static_inputs):
            if isinstance(t, torch.nn.Parameter):
                self.register_parameter(name, t)
            elif isinstance(t, torch.Tensor):
                self.register_buffer(name, t)
            else:
                raise TypeError(f"FlexSN static_inputs must be tensors, got {type(t).__name__}")
        self._state_names = tuple(f"_state_{i}" for i in range(num_states))
        for name in self._state_names:
            self.register_memory(name, None)
        self._num_inputs = _count_inputs(core, num_states, len(static_inputs))
        self._num_outputs = self._infer_outputs()
        self.store_state_seqs = store_state_seqs

    @property
    def static_inputs(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, n) for n in self._static_input_names)

    @property
    def states(self) -> tuple:
        return tuple(self._memories[n] for n in self._state_names)

    @states.setter
    def states(self, values) -> None:
        values = tuple(values)
        if len(values) != self.num_states or not all(isinstance(v, torch.Tensor) for v in values):
            raise ValueError(f"FlexSN expects {self.num_states} state tensors, got {len(values)} values")
        self._store_states(values, "states")

    @property
    def store_state_seqs(self) -> bool:
        return self._store_state_seqs

    @store_state_seqs.setter
    def store_state_seqs(self, value: bool) -> None:
        self._store_state_seqs = bool(value)
        self.state_seqs = None

    def reset(self) -> None:
        super().reset()
        self.state_seqs = None

    def _infer_outputs(self) -> int:
        static = self.static_inputs
        unit = torch.zeros(1, dtype=static[0].dtype if static else torch.float32,
                           device=static[0].device if static else "cpu")
        try:
            returns = _as_tuple(self.core(*([unit] * (self._num_inputs + self.num_states)), *([unit] * len(static))))
        except Exception as exc:
            raise RuntimeError("FlexSN core must run on one-element tensors (to count its outputs)") from exc
        if len(returns) <= self.num_states:
            raise ValueError(f"FlexSN core returned {len(returns)} tensors; it must return its outputs and then "
                             f"num_states={self.num_states} new states")
        return len(returns) - self.num_states

    @staticmethod
    def init_states(num_states: int, step_mode: str, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Zero states shaped like one step of the first input."""
        if not inputs:
            raise ValueError("FlexSN requires at least one input tensor")
        reference = inputs[0] if step_mode == "s" else inputs[0][0]
        return tuple(torch.zeros_like(reference) for _ in range(num_states))

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        if any(s is None for s in states):
            return self.init_states(self.num_states, step_mode, *inputs)
        return states

    def _step(self, inputs: tuple, states: tuple, static: tuple) -> tuple[tuple, tuple]:
        if len(inputs) != self._num_inputs:
            raise ValueError(f"FlexSN core takes {self._num_inputs} inputs, got {len(inputs)}")
        ref = inputs[0]
        sizes = [(t, (ref.numel(),)) for t in (*inputs, *states)] + [(t, (1, ref.numel())) for t in static]
        for t, numels in sizes:
            if not isinstance(t, torch.Tensor) or t.dtype != ref.dtype or t.device != ref.device or \
                    t.numel() not in numels:
                raise ValueError("FlexSN inputs, states and static inputs must be tensors with the step's numel "
                                 f"({ref.numel()}; a static input may have 1), dtype {ref.dtype} and device "
                                 f"{ref.device}")
        returns = _as_tuple(self.core(*inputs, *states, *static))
        if len(returns) != self._num_outputs + self.num_states:
            raise ValueError(f"FlexSN core returned {len(returns)} tensors, expected {self._num_outputs} outputs and "
                             f"{self.num_states} states")
        return returns[:self._num_outputs], returns[self._num_outputs:]

    def single_step_functional_forward(self, inputs: tuple, states: tuple, *, static_inputs: tuple = (),
                                       **kwargs) -> tuple:
        return self._step(tuple(inputs), tuple(states), tuple(static_inputs))

    def _scan(self, inputs: tuple, states: tuple, static: tuple, keep: bool) -> tuple:
        if any(x.dim() == 0 or x.shape[0] != inputs[0].shape[0] for x in inputs) or inputs[0].shape[0] == 0:
            raise StepModeError("FlexSN multi-step inputs must share a time dimension T >= 1")
        outs, seqs = [], []
        for t in range(inputs[0].shape[0]):
            out, states = self._step(tuple(x[t] for x in inputs), states, static)
            outs.append(out)
            if keep:
                seqs.append(states)
        stacked = tuple(torch.stack(o) for o in zip(*outs))
        return stacked, states, (tuple(torch.stack(s) for s in zip(*seqs)) if keep else None)

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, *, static_inputs: tuple = (),
                                      **kwargs) -> tuple:
        outputs, states, _ = self._scan(tuple(inputs), tuple(states), tuple(static_inputs), False)
        return outputs, states

    def forward(self, *inputs: torch.Tensor):
        states = self.materialize_states(inputs, self.states, self.step_mode)
        if self.step_mode == "s":
            outputs, states = self._step(inputs, states, self.static_inputs)
            self.state_seqs = None
        else:
            outputs, states, self.state_seqs = self._scan(inputs, states, self.static_inputs, self._store_state_seqs)
        self.states = states
        return outputs[0] if len(outputs) == 1 else outputs

    def extra_repr(self) -> str:
        name = getattr(self.core, "__name__", type(self.core).__name__)
        return (f"core={name}, num_states={self.num_states}, num_static_inputs={len(self._static_input_names)}, "
                f"step_mode={self.step_mode!r}")
