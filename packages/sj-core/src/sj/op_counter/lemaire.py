"""Lemaire et al. (2022), "An Analytical Estimation of Spiking Neural Networks Energy Efficiency": operations,
addressing and SRAM accesses of Conv/Linear layers and IF/LIF neurons, on a 45 nm, 32-bit integer model."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from itertools import pairwise
from math import ceil, isfinite, prod
from numbers import Real
from typing import Any

import torch
from torch import nn

from sj.neuron import IFNode, LIFNode
from sj.op_counter import neuron_ops
from sj.op_counter.base import EnergyModelInfo, ModuleCounter, ModuleCounterMode, call_model, first_tensor
from sj.op_counter.spike_ops import spike_count, untraced

__all__ = ["LemaireEnergyConfig", "LemaireEnergyCostConfig", "LemaireEnergyProfiler", "LemaireEnergyReport",
           "estimate_lemaire_energy"]

WORD_BYTES = 4  # 32-bit accesses
LEMAIRE_MODEL_INFO = EnergyModelInfo(
    model_id="lemaire_2022_runtime_v1",
    fidelity="paper",
    source_urls=("https://arxiv.org/abs/2210.13107", "https://doi.org/10.1007/978-3-031-30105-6_48"),
    technology_nm=45,
    precision="32-bit integer operations and 32-bit SRAM accesses",
    scope="runtime Conv/Linear forward inference under the Lemaire analytical model",
)
SYNAPTIC = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
NEURONS = (IFNode, LIFNode)
UNSUPPORTED_SYNAPTIC = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_ACCESSES = ("read_in_bytes", "write_out_bytes", "read_params_bytes", "read_potential_bytes", "write_potential_bytes")
_BUFFER_OF = {"read_in_bytes": "inout", "write_out_bytes": "inout", "read_params_bytes": "params",
              "read_potential_bytes": "potential", "write_potential_bytes": "potential"}


@dataclass
class LemaireEnergyCostConfig:
    """Costs of the Lemaire model: an addition (``e_add_pj`` 0.1) and a multiplication (``e_mul_pj`` 3.1) of 32-bit
    integers, and the SRAM cost per byte as a piecewise-linear function of the buffer size through four
    ``(bytes, pJ/byte)`` ``memory_breakpoints`` (0; 8 KiB: 10 pJ; 32 KiB: 20 pJ; 1 MiB: 100 pJ per 32-bit word),
    clamped to the first and last."""

    e_add_pj: float = 0.1
    e_mul_pj: float = 3.1
    memory_breakpoints: tuple[tuple[float, float], ...] = (
        (0.0, 0.0), (8.0 * 1024.0, 10.0 / WORD_BYTES), (32.0 * 1024.0, 20.0 / WORD_BYTES),
        (1024.0 * 1024.0, 100.0 / WORD_BYTES))

    def __post_init__(self) -> None:
        for name in ("e_add_pj", "e_mul_pj"):
            value = getattr(self, name)
            if not isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and nonnegative.")
        points = self.memory_breakpoints
        if len(points) != 4 or not all(isinstance(p, tuple) and len(p) == 2 for p in points):
            raise ValueError("memory_breakpoints must contain exactly 4 (x, y) pairs.")
        for x, y in points:
            if not isinstance(x, Real) or not isinstance(y, Real):
                raise ValueError("memory_breakpoints entries must be numeric (x, y) pairs.")
            if not (isfinite(x) and isfinite(y)) or x < 0 or y < 0:
                raise ValueError("memory_breakpoints entries must be finite and nonnegative.")
        if any(b[0] <= a[0] for a, b in pairwise(points)):
            raise ValueError("memory_breakpoints x values must be strictly increasing.")

    def memory_cost_pj(self, memory: float) -> float:
        """Cost per byte (pJ) of accessing a buffer of ``memory`` bytes."""
        points = self.memory_breakpoints
        memory = max(points[0][0], min(memory, points[-1][0]))
        for (x0, y0), (x1, y1) in pairwise(points):
            if memory <= x1:
                return y0 + (y1 - y0) / (x1 - x0) * (memory - x0)
        raise AssertionError("unreachable: memory is clamped to the last breakpoint")


@dataclass
class LemaireEnergyConfig:
    """Options of :class:`LemaireEnergyProfiler`: ``strict`` (raise on a module the formulas do not cover instead of
    warning and leaving it out), ``cost_config``, ``snn_fifo_capacity_elements`` (size of the spike FIFOs, elements)."""

    strict: bool = True
    cost_config: LemaireEnergyCostConfig = field(default_factory=LemaireEnergyCostConfig)
    snn_fifo_capacity_elements: int = 1000

    def __post_init__(self) -> None:
        if self.snn_fifo_capacity_elements <= 0:
            raise ValueError("snn_fifo_capacity_elements must be positive.")


@dataclass
class LemaireEnergyReport:
    """Result of the Lemaire model (pJ). ``total_pj = ops_pj + addressing_pj + memory_pj``; ``counts`` holds the
    paper's ``synop``, ``mac``, ``ac``, ``acc_addr``, ``mac_addr`` and the bytes per access kind;
    ``buffer_sizes_bytes`` the buffer sizes that priced them."""

    total_pj: float
    breakdown_pj: dict[str, float]
    counts: dict[str, int]
    buffer_sizes_bytes: dict[str, int]
    warnings: list[str]
    model_info: EnergyModelInfo
    config: LemaireEnergyConfig


class _LemaireCounter(ModuleCounter):
    """Applies the paper's formulas to each Conv/Linear and IF/LIF call."""

    def __init__(self, *, strict: bool, fifo_capacity_elements: int) -> None:
        super().__init__()
        self.strict = strict
        self.fifo_capacity = fifo_capacity_elements * WORD_BYTES
        self.warnings: list[str] = []
        self.model_has_neurons = False
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.warnings = []
        self._warned: set[type] = set()
        self.accesses: list[tuple[str, int, int]] = []  # (kind, bytes, buffer capacity)
        self.ops = dict.fromkeys(("synop", "mac", "ac", "acc_addr", "mac_addr"), 0)

    def bind_model(self, model: nn.Module) -> None:
        self.model_has_neurons = any(neuron_ops.is_declared_neuron(m) for m in model.modules())
        self.rules = {**{("forward", cls): self._synaptic for cls in SYNAPTIC},
                      **{("forward", cls): self._neuron for cls in NEURONS}}

    def validate_model(self, model: nn.Module) -> None:
        inside_neurons = {child for m in model.modules() if neuron_ops.is_declared_neuron(m)
                          for child in m.modules() if child is not m}
        for module in model.modules():
            if module in inside_neurons:
                continue
            unsupported = (isinstance(module, UNSUPPORTED_SYNAPTIC)
                           or (neuron_ops.is_declared_neuron(module) and not isinstance(module, NEURONS))
                           or (not neuron_ops.is_declared_neuron(module) and not any(module.children())
                               and not isinstance(module, SYNAPTIC)))
            if unsupported:
                self._unsupported(module)

    def _unsupported(self, module: nn.Module) -> None:
        cls = type(module)
        if cls in self._warned:
            return
        self._warned.add(cls)
        message = f"Lemaire formulas do not support {cls.__name__}; its energy is omitted."
        if self.strict:
            raise ValueError(message)
        self.warnings.append(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)

    @staticmethod
    def _steps(module: nn.Module, x: torch.Tensor) -> int:
        return int(x.shape[0]) if getattr(module, "step_mode", "s") == "m" else 1

    def _synaptic(self, module: nn.Module, args: tuple, kwargs: dict, out: torch.Tensor) -> int:
        x = first_tensor(args, kwargs)
        linear = isinstance(module, nn.Linear)
        active = spike_count(x)
        spiking = active is not None
        out_per_group = 1 if linear else module.out_channels // module.groups
        fanout_kernel = 1 if linear else prod(module.kernel_size)
        dense_uses = out.numel() * (module.in_features if linear else prod(int(d) for d in module.weight.shape[1:]))
        if spiking:
            per_spike = module.out_features if linear else out_per_group * prod(
                ceil(k / s) for k, s in zip(module.kernel_size, module.stride, strict=True))
            synops = active * per_spike
            fanout = active * (module.out_features if linear else out_per_group * fanout_kernel)
            self.ops["ac"] += synops
            self.ops["synop"] += synops
            self.ops["acc_addr"] += fanout
            self.ops["mac_addr"] += 0 if linear else 2 * active
        else:
            fanout = 0
            self.ops["mac"] += dense_uses
            self.ops["acc_addr"] += x.numel() + out.numel() + (0 if linear else module.out_channels * fanout_kernel)
        if module.bias is not None:
            self.ops["ac"] += out.numel()
        params_capacity = sum(p.numel() for p in module.parameters(recurse=False)) * WORD_BYTES
        bias_bytes = 0 if module.bias is None else out.numel() * WORD_BYTES
        if spiking:
            self.accesses.append(("read_in_bytes", active * WORD_BYTES, self.fifo_capacity))
        elif linear:
            self.accesses.append(("read_in_bytes", x.numel() * WORD_BYTES, x.numel() * WORD_BYTES))
        else:
            self.accesses.append(("read_in_bytes", dense_uses * WORD_BYTES, x.numel() * WORD_BYTES))
        weight_uses = fanout if spiking else dense_uses
        self.accesses.append(("read_params_bytes", weight_uses * WORD_BYTES + bias_bytes, params_capacity))
        output_bytes = out.numel() * WORD_BYTES
        if spiking:
            capacity = output_bytes // max(self._steps(module, x), 1)
            self.accesses += [("read_potential_bytes", fanout * WORD_BYTES, capacity),
                              ("write_potential_bytes", fanout * WORD_BYTES, capacity)]
        elif not self.model_has_neurons:
            self.accesses.append(("write_out_bytes", output_bytes, output_bytes))
        return 0

    def _neuron(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> int:
        out = output[0] if isinstance(output, (tuple, list)) and output else output
        if not isinstance(out, torch.Tensor):
            return 0
        steps = self._steps(module, first_tensor(args, kwargs))
        capacity = out.numel() // max(steps, 1) * WORD_BYTES
        self.accesses += [("read_potential_bytes", capacity * steps, capacity),
                          ("write_potential_bytes", capacity * steps, capacity)]
        with untraced():
            spikes = int(out.count_nonzero())
        self.ops["ac"] += spikes
        if isinstance(module, LIFNode):
            self.ops["mac"] += out.numel()  # the leak
        self.accesses.append(("write_out_bytes", spikes * WORD_BYTES, self.fifo_capacity))
        return 0

    def record(self, scope: str, func: Any, value: int) -> None:
        """The model keeps its own totals (no per-scope records)."""

    def summarize(self, cost: LemaireEnergyCostConfig) -> tuple[dict[str, int], dict[str, int], dict[str, float]]:
        counts = dict.fromkeys(_ACCESSES, 0)
        buffers = {"inout_buffer_bytes": 0, "params_buffer_bytes": 0, "potential_buffer_bytes": 0}
        energy = {"inout_pj": 0.0, "params_pj": 0.0, "potential_pj": 0.0}
        for kind, amount, capacity in self.accesses:
            buffer = _BUFFER_OF[kind]
            counts[kind] += amount
            buffers[f"{buffer}_buffer_bytes"] = max(buffers[f"{buffer}_buffer_bytes"], capacity)
            energy[f"{buffer}_pj"] += amount * cost.memory_cost_pj(capacity)
        return counts, buffers, energy


class LemaireEnergyProfiler:
    """Context manager measuring one run for the Lemaire model: Conv/Linear layers and IF/LIF neurons (sj's
    :class:`~sj.neuron.IFNode` and :class:`~sj.neuron.LIFNode`, either step mode); any other leaf module raises
    ``ValueError`` (``strict``) or is left out with a warning. Call :meth:`bind_model` before entering."""

    def __init__(self, *, config: LemaireEnergyConfig | None = None) -> None:
        self.config = copy.deepcopy(config or LemaireEnergyConfig())
        self.lemaire_counter = _LemaireCounter(strict=self.config.strict,
                                               fifo_capacity_elements=self.config.snn_fifo_capacity_elements)
        self._module_mode: ModuleCounterMode | None = None

    def bind_model(self, model: nn.Module) -> None:
        """Bind the model to profile."""
        if self._module_mode is not None and self._module_mode._active:
            raise RuntimeError("LemaireEnergyProfiler.bind_model() cannot run while profiling.")
        self.lemaire_counter.bind_model(model)
        self._module_mode = ModuleCounterMode([self.lemaire_counter], model=model)

    def __enter__(self) -> LemaireEnergyProfiler:
        if self._module_mode is None:
            raise RuntimeError("LemaireEnergyProfiler.bind_model() must be called before entering.")
        self.lemaire_counter.reset()
        self.lemaire_counter.validate_model(self._module_mode.model)
        self._module_mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._module_mode.__exit__(*exc)

    def get_report(self) -> LemaireEnergyReport:
        """The report of the latest run."""
        cost = self.config.cost_config
        counter = self.lemaire_counter
        memory_counts, buffers, memory = counter.summarize(cost)
        ops = counter.ops
        counts = {"synop": ops["synop"], "mac": ops["mac"], "ac": ops["ac"], **memory_counts,
                  "acc_addr": ops["acc_addr"], "mac_addr": ops["mac_addr"]}
        ops_pj = ops["ac"] * cost.e_add_pj + ops["mac"] * (cost.e_mul_pj + cost.e_add_pj)
        addressing_pj = ops["acc_addr"] * cost.e_add_pj + ops["mac_addr"] * (cost.e_mul_pj + cost.e_add_pj)
        memory_pj = memory["inout_pj"] + memory["params_pj"] + memory["potential_pj"]
        return LemaireEnergyReport(
            total_pj=ops_pj + addressing_pj + memory_pj,
            breakdown_pj={"ops_pj": ops_pj, "addressing_pj": addressing_pj, "memory_pj": memory_pj, **memory},
            counts=counts, buffer_sizes_bytes=buffers, warnings=list(counter.warnings),
            model_info=LEMAIRE_MODEL_INFO, config=copy.deepcopy(self.config))


def estimate_lemaire_energy(model: nn.Module, inputs: Any, *,
                            config: LemaireEnergyConfig | None = None) -> LemaireEnergyReport:
    """Run ``model`` once on ``inputs`` (no grad) and return its :class:`LemaireEnergyReport`."""
    profiler = LemaireEnergyProfiler(config=config)
    profiler.bind_model(model)
    with profiler, torch.no_grad():
        call_model(model, inputs)
    return profiler.get_report()
