"""Neuron state traffic and state-update operations of sj neurons, from their declarations."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj.base import MemoryModule
from sj.op_counter import neuron_ops
from sj.op_counter.base import BaseCounter, tensors_in

__all__ = ["NeuronStateCounter"]

METRICS = ("state_reads", "state_writes", "neuron_logical_steps", "state_adds", "state_muls", "state_comps",
           "state_nonlinear_ops", "state_reset_ops", "state_select_ops", "spike_triggered_ops", "timestep_dense_ops")


def storage_key(t: torch.Tensor) -> tuple:
    """Identifies the memory a tensor lives in (views of one state share the key)."""
    ptr = id(t) if t.is_meta else t.untyped_storage().data_ptr()
    return t.device.type, t.device.index, t.dtype, ptr


def _neuron_metrics(args: tuple) -> tuple[dict[str, int], int]:
    """Metrics of one ``sj.multistep_fwd`` call and the bytes of one step's states."""
    steps, per_step, states = neuron_ops.call_shapes(args)
    state_bytes = sum(s.numel() * s.element_size() for s in states)
    ops = neuron_ops.operation_counts(args, elementwise_only=True)
    reset = neuron_ops.operation_counts(args, stages=("reset",), elementwise_only=True)
    metrics = dict.fromkeys(METRICS, 0)
    metrics.update(state_reads=state_bytes * steps, state_writes=state_bytes * steps,
                   neuron_logical_steps=steps * per_step, state_adds=ops["add"], state_muls=ops["mul"],
                   state_comps=ops["cmp"], state_nonlinear_ops=ops["nonlinear"] + ops["sigmoid"] + ops["pow"],
                   state_select_ops=ops["select"], state_reset_ops=sum(reset.values()),
                   timestep_dense_ops=sum(ops.values()))
    return metrics, state_bytes


class NeuronStateCounter(BaseCounter):
    """State reads/writes and state-update operations of spiking neurons, for :class:`DispatchCounterMode`.

    An sj neuron call (either step mode, any backend) is counted from its declaration (see
    :mod:`sj.op_counter.neuron_ops`): every state tensor (``v`` and the aux states) is read and written once per step
    (``state_reads``/``state_writes``, bytes), ``neuron_logical_steps`` is ``T·N``, and the per-neuron operations of
    the equations are split into ``state_adds`` (additions, subtractions), ``state_muls`` (multiplications,
    divisions), ``state_comps`` (comparisons: the firing test), ``state_nonlinear_ops`` (exp, sigmoid, powers, ...),
    ``state_select_ops`` (max/min/piecewise), ``state_reset_ops`` (the reset's operations) and
    ``timestep_dense_ops`` (all of them: every neuron runs its equations at every step; ``spike_triggered_ops`` stays
    0). ``get_projection_counts()`` groups them into ``read_potential``, ``write_potential`` (bytes),
    ``state_mac_like``, ``state_acc_like`` and ``potential_buffer_bytes`` (the largest per-step state buffer).

    Args:
        strict: raise ``ValueError`` (instead of warning once) when a stateful module that is not an sj neuron and
            has no ``extra_state_rules`` entry updates its state: those updates are not counted.
        extra_state_rules: ``{module_type: rule(module, func, args, kwargs, out, state_tensor_keys) -> dict | None}``
            for other stateful modules (and to override a neuron type's counts); ``state_tensor_keys`` holds the
            :func:`storage_key` of the module's state tensors; a returned ``{metric: int}`` is recorded.
        zero_ratio_threshold, enable_sparse_memory_estimation: SpikingJelly's options for estimating sparse state
            access of its Python neurons from the operators they run; sj neurons update every state at every step,
            so they do not change sj's counts (checked: ``zero_ratio_threshold`` in [0, 1]).
    """

    def __init__(self, *, strict: bool = False,
                 extra_state_rules: dict[type[nn.Module], Callable] | None = None,
                 zero_ratio_threshold: float = 0.5, enable_sparse_memory_estimation: bool = True) -> None:
        super().__init__()
        if not 0.0 <= zero_ratio_threshold <= 1.0:
            raise ValueError(f"zero_ratio_threshold must be in [0, 1], got {zero_ratio_threshold}")
        for module_type, rule in (extra_state_rules or {}).items():
            if not callable(rule):
                raise TypeError(f"extra_state_rules values must be callable, got {type(rule).__name__} for "
                                f"{getattr(module_type, '__name__', module_type)}")
        self.strict = bool(strict)
        self.extra_state_rules = dict(extra_state_rules or {})
        self.zero_ratio_threshold = float(zero_ratio_threshold)
        self.enable_sparse_memory_estimation = bool(enable_sparse_memory_estimation)
        self.metric_records: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.projection_records: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.warnings: list[str] = []
        self._warned: set[int] = set()
        self._pending: tuple[dict[str, int], dict[str, int]] | None = None

    def has_rule(self, func: Any) -> bool:
        """Every event is looked at (most count nothing)."""
        return True

    def _stateful(self, active_modules: set[nn.Module]) -> list[nn.Module]:
        return [m for m in active_modules if neuron_ops.is_declared_neuron(m)
                or (isinstance(m, MemoryModule) and neuron_ops.state_tensors(m))]

    def _uncounted(self, module: nn.Module) -> None:
        message = (f"NeuronStateCounter: the state updates of {type(module).__name__} are not counted (it is not an sj "
                   "neuron; pass extra_state_rules={" + type(module).__name__ + ": rule} to count them)")
        if self.strict:
            raise ValueError(message)
        if id(module) not in self._warned:
            self._warned.add(id(module))
            self.warnings.append(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def count(self, func: Any, args: tuple, kwargs: dict, out: Any, active_modules: set[nn.Module] | None = None,
              parent_names: set[str] | None = None) -> int:
        """The sum of the metrics of one event (0 for events that touch no neuron state)."""
        self._pending = None
        for module in self._stateful(active_modules or set()):
            rule = self.extra_state_rules.get(type(module))
            keys = {storage_key(t) for t in neuron_ops.state_tensors(module)}
            if rule is not None:
                found = rule(module, func, args, kwargs, out, keys)
                if found is not None:
                    return self._store({k: int(v) for k, v in found.items()}, 0)
            elif not neuron_ops.is_declared_neuron(module) and any(
                    storage_key(t) in keys for t in tensors_in((args, kwargs))):
                self._uncounted(module)
        if neuron_ops.is_neuron_event(func):
            return self._store(*_neuron_metrics(args))
        return 0

    def _store(self, metrics: dict[str, int], buffer_bytes: int) -> int:
        projection = {"read_potential": metrics.get("state_reads", 0),
                      "write_potential": metrics.get("state_writes", 0),
                      "state_mac_like": metrics.get("state_muls", 0),
                      "state_acc_like": sum(metrics.get(k, 0) for k in ("state_adds", "state_comps",
                                                                         "state_nonlinear_ops", "state_select_ops")),
                      "potential_buffer_bytes": buffer_bytes}
        self._pending = metrics, projection
        return sum(metrics.values())

    def record(self, scope: str, func: Any, value: int) -> None:
        """Record the event's total, metrics and projections under ``scope``."""
        if self._pending is None:
            return
        super().record(scope, func, value)
        metrics, projection = self._pending
        for key, amount in metrics.items():
            self.metric_records[scope][key] += amount
        for key, amount in projection.items():
            if key == "potential_buffer_bytes":
                self.projection_records[scope][key] = max(self.projection_records[scope][key], amount)
            else:
                self.projection_records[scope][key] += amount

    def finalize_record(self) -> None:
        """Called by the mode once an event is recorded in all its scopes."""
        self._pending = None

    def get_metric_counts(self) -> dict[str, dict[str, int]]:
        """``{scope: {metric: count}}`` of the fine-grained metrics."""
        return {scope: dict(items) for scope, items in self.metric_records.items()}

    def get_projection_counts(self) -> dict[str, dict[str, int]]:
        """``{scope: {projection: count}}`` (see the class docstring)."""
        return {scope: dict(items) for scope, items in self.projection_records.items()}

    def get_extra_counts(self) -> dict[str, dict[str, int]]:
        """The same as :meth:`get_projection_counts`."""
        return self.get_projection_counts()

    def reset(self) -> None:
        """Forget every record and warning."""
        super().reset()
        self.metric_records = defaultdict(lambda: defaultdict(int))
        self.projection_records = defaultdict(lambda: defaultdict(int))
        self.warnings = []
        self._warned = set()
        self._pending = None
