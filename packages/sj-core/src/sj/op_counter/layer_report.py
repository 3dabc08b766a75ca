"""A per-layer table of one run: SynOps, ACs, MACs, firing rates and simple-model energy (what ``sj ops`` prints)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from sj.op_counter import neuron_ops
from sj.op_counter.base import call_model
from sj.op_counter.neuromorphic_memory_access import SYNAPTIC_MODULES
from sj.op_counter.simple_energy import SimpleEnergyConfig, SimpleEnergyProfiler, SimpleEnergyReport
from sj.op_counter.spike_ops import untraced

__all__ = ["LayerRow", "layer_report"]


@dataclass
class LayerRow:
    """One layer (a leaf module that computed something, or a neuron): its scope name and type, its counts, the
    firing rate of a neuron (spikes per neuron per step, ``None`` for other layers) and its simple-model energy (pJ:
    MACs, ACs and the parameter and state traffic of :class:`SimpleEnergyProfiler`)."""

    scope: str
    kind: str
    synops: int
    acs: int
    macs: int
    firing_rate: float | None
    energy_pj: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _firing_hooks(model: nn.Module, totals: dict[nn.Module, list[float]]) -> list[Any]:
    def hook(module: nn.Module, args: tuple, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            entry = totals.setdefault(module, [0.0, 0])
            with untraced():  # not an operation of the model
                entry[0] += float(output.float().sum())
            entry[1] += output.numel()

    return [m.register_forward_hook(hook) for m in model.modules() if neuron_ops.is_declared_neuron(m)]


def layer_report(model: nn.Module, inputs: Any, config: SimpleEnergyConfig | None = None
                 ) -> tuple[list[LayerRow], SimpleEnergyReport]:
    """Run ``model`` once on ``inputs`` (no grad; a tuple/list is unpacked, a dict passed as keywords) and return one
    :class:`LayerRow` per layer, in module order, and the :class:`SimpleEnergyReport` of the whole run (whose totals
    include what no leaf layer owns, e.g. a residual addition in a block's ``forward``)."""
    profiler = SimpleEnergyProfiler(config=config)
    profiler.bind_model(model)
    spikes: dict[nn.Module, list[float]] = {}
    handles = _firing_hooks(model, spikes)
    try:
        with profiler, torch.no_grad():
            call_model(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    cost = profiler.config.cost_config
    synops, acs, macs = (c.get_counts() for c in (profiler.synop_counter, profiler.ac_counter,
                                                 profiler.mac_counter))
    memory = profiler.memory_counter.get_counts()
    root = type(model).__name__
    rows = []
    for path, module in model.named_modules():
        neuron = neuron_ops.is_declared_neuron(module)
        if any(module.children()) and not neuron:
            continue
        scope = f"{root}.{path}" if path else root
        counts = [sum(table.get(scope, {}).values()) for table in (synops, acs, macs)]
        traffic = sum(memory.get(scope, {}).values())
        if not (neuron or isinstance(module, SYNAPTIC_MODULES) or any(counts) or traffic):
            continue
        energy = counts[2] * cost.e_mac_pj + counts[1] * cost.e_ac_pj + traffic * cost.e_memory_pj_per_byte
        fired = spikes.get(module)
        rate = fired[0] / fired[1] if fired and fired[1] else None
        rows.append(LayerRow(scope, type(module).__name__, *counts, rate, energy))
    return rows, profiler.get_report()
