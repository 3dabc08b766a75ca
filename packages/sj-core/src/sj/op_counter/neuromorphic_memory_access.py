"""Logical memory traffic of neuromorphic inference: parameter reads of synaptic layers, neuron state reads/writes."""

from __future__ import annotations

from math import prod
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sj.op_counter import neuron_ops
from sj.op_counter.base import GLOBAL_SCOPE, ModuleCounter, first_tensor
from sj.op_counter.spike_ops import is_spike, spike_conv_weight_uses, untraced

__all__ = ["NeuromorphicMemoryAccessCounter", "synaptic_weight_uses"]

METRICS = ("weight_read_bytes", "bias_read_bytes", "neuron_state_read_bytes", "neuron_state_write_bytes")
SYNAPTIC_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _time_folded(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input of a multi-step layer with time folded into the batch (``[T·N, ...]``), as the layer computes it."""
    return x.flatten(0, 1) if getattr(module, "step_mode", "s") == "m" else x


def synaptic_weight_uses(module: nn.Module, x: torch.Tensor, output: torch.Tensor) -> int:
    """Weight uses of a Linear/Conv call on ``x``: the spike-triggered fan-out for a spike input, every weight of
    every output (``outputs · fan_in``) for a dense one."""
    if is_spike(x):
        if isinstance(module, nn.Linear):
            with untraced():
                return int(x.count_nonzero()) * module.out_features
        x = _time_folded(module, x)
        padding = module.padding
        if isinstance(padding, str) or module.padding_mode != "zeros":
            mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
            with untraced():
                x = F.pad(x, module._reversed_padding_repeated_twice, mode)
            padding = (0,) * len(module.stride)
        return spike_conv_weight_uses(x, module.weight.shape, module.stride, padding, module.dilation, module.groups)
    fan_in = module.in_features if isinstance(module, nn.Linear) else prod(int(d) for d in module.weight.shape[1:])
    return output.numel() * fan_in


class NeuromorphicMemoryAccessCounter(ModuleCounter):
    """Logical memory traffic of neuromorphic inference in bytes, for :class:`ModuleCounterMode`.

    Counts, per call: the weights a Linear/Conv layer uses (the spike-triggered fan-out for a spike input, every
    weight of every output for a dense input) and its bias (once per output), and one read and one write per step of
    each state tensor of an sj neuron (``v`` and the declaration's aux states; ``v_seq`` is a record, not a state).
    Bytes follow the tensors' dtypes. Inputs, output spikes, FIFOs, routing and caches are outside the model.
    ``get_counts()`` gives ``{scope: {metric: bytes}}`` with the metrics ``weight_read_bytes``, ``bias_read_bytes``,
    ``neuron_state_read_bytes``, ``neuron_state_write_bytes``.

    Args:
        extra_ignore_modules: module types not counted.
    """

    def __init__(self, *, extra_ignore_modules: list[type[nn.Module]] | None = None) -> None:
        super().__init__()
        rules = {("forward", cls): self._count_synaptic for cls in SYNAPTIC_MODULES}
        rules[("forward", neuron_ops.BaseNode)] = self._count_neuron
        self._setup(rules, None, extra_ignore_modules)
        self._pending: dict[str, int] = {}

    def _count_synaptic(self, module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor) -> int:
        uses = synaptic_weight_uses(module, first_tensor(args, kwargs), output)
        bias = 0 if module.bias is None else output.numel() * module.bias.element_size()
        self._pending = {"weight_read_bytes": uses * module.weight.element_size(), "bias_read_bytes": bias}
        return sum(self._pending.values())

    def _count_neuron(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> int:
        x = first_tensor(args, kwargs)
        steps = int(x.shape[0]) if module.step_mode == "m" else 1
        state_bytes = steps * sum(s.numel() * s.element_size() for s in neuron_ops.state_tensors(module))
        self._pending = {"neuron_state_read_bytes": state_bytes, "neuron_state_write_bytes": state_bytes}
        return 2 * state_bytes

    def record(self, scope: str, func: Any, value: int) -> None:
        """Record the metrics of the event being counted under ``scope``."""
        for metric, amount in self._pending.items():
            self.records[scope][metric] += amount

    def finalize_record(self) -> None:
        """Called by the mode once an event is recorded in all its scopes."""
        self._pending = {}

    def reset(self) -> None:
        """Forget every record."""
        super().reset()
        self._pending = {}

    def get_counts(self) -> dict[str, dict[str, int]]:
        """``{scope: {metric: bytes}}`` (all four metrics in every scope)."""
        return {scope: {m: values.get(m, 0) for m in METRICS} for scope, values in self.records.items()}

    def get_total(self) -> int:
        """Total bytes of the whole run."""
        return sum(self.records.get(GLOBAL_SCOPE, {}).values())
