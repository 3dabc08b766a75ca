"""Simple energy: runtime MACs and ACs plus logical parameter and neuron-state traffic, at fixed costs per operation
and per byte (Horowitz 2014, 45 nm; the memory cost per byte of STEP)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sj.op_counter.ac import ACCounter
from sj.op_counter.base import GLOBAL_SCOPE, DispatchCounterMode, EnergyModelInfo, ModuleCounterMode, call_model
from sj.op_counter.mac import MACCounter
from sj.op_counter.neuromorphic_memory_access import NeuromorphicMemoryAccessCounter
from sj.op_counter.synop import SynOpCounter

__all__ = ["SimpleEnergyConfig", "SimpleEnergyCostConfig", "SimpleEnergyProfiler", "SimpleEnergyReport",
           "estimate_simple_energy"]

SIMPLE_MODEL_INFO = EnergyModelInfo(
    model_id="simple_horowitz_step_composite_v1",
    fidelity="spikingjelly-defined",
    source_urls=("https://doi.org/10.1109/ISSCC.2014.6757323", "https://openreview.net/pdf?id=SzwU2XrXIS"),
    technology_nm=45,
    precision="configurable comparison regime; runtime bytes use observed dtype",
    scope="runtime MAC/AC plus SpikingJelly logical parameter and neuron-state traffic",
)


@dataclass
class SimpleEnergyCostConfig:
    """Unit costs of the simple model (pJ). Defaults: 45 nm 32-bit float, ``E_MAC = 4.6``, ``E_AC = 0.9`` (Horowitz
    2014), memory ``24.96`` pJ/byte (3.12 pJ/bit, as STEP). The memory cost does not follow the runtime dtype; the
    byte counts do."""

    e_mac_pj: float = 4.6
    e_ac_pj: float = 0.9
    e_memory_pj_per_byte: float = 24.96

    def __post_init__(self) -> None:
        for name in ("e_mac_pj", "e_ac_pj", "e_memory_pj_per_byte"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and nonnegative, got {value!r}")

    @classmethod
    def fp32(cls) -> SimpleEnergyCostConfig:
        """Horowitz 2014, 45 nm FP32: MAC 4.6 pJ, AC 0.9 pJ."""
        return cls(e_mac_pj=4.6, e_ac_pj=0.9, e_memory_pj_per_byte=24.96)

    @classmethod
    def fp16(cls) -> SimpleEnergyCostConfig:
        """Horowitz 2014, 45 nm FP16: MAC = FMult16 1.1 + FAdd16 0.4 = 1.5 pJ, AC 0.4 pJ."""
        return cls(e_mac_pj=1.5, e_ac_pj=0.4, e_memory_pj_per_byte=24.96)

    @classmethod
    def int8(cls) -> SimpleEnergyCostConfig:
        """Horowitz 2014, 45 nm INT8: MAC = Mult8 0.2 + Add8 0.03 = 0.23 pJ, AC 0.03 pJ."""
        return cls(e_mac_pj=0.23, e_ac_pj=0.03, e_memory_pj_per_byte=24.96)


@dataclass
class SimpleEnergyConfig:
    """Options of :class:`SimpleEnergyProfiler`: ``strict`` (raise when nothing was counted instead of warning),
    ``cost_config`` (default :meth:`SimpleEnergyCostConfig.fp32`), ``extra_ignore_modules`` (module types left out
    of every count)."""

    strict: bool = False
    cost_config: SimpleEnergyCostConfig = field(default_factory=SimpleEnergyCostConfig)
    extra_ignore_modules: list[type[nn.Module]] | None = None


@dataclass
class SimpleEnergyReport:
    """Result of the simple model (energies in pJ).

    ``energy_total_pj = energy_compute_pj + energy_memory_pj``; compute is ``mac · E_MAC + ac · E_AC``; memory is
    ``(weight + bias reads + neuron state reads and writes) · E_byte``. ``counts`` holds ``mac``, ``ac``, ``synop``
    (the spike-driven part of ``ac``, reported, not charged twice) and the byte counts; ``breakdown_pj`` the
    components; ``warnings`` what could not be counted.
    """

    energy_total_pj: float
    energy_compute_pj: float
    energy_mac_pj: float
    energy_ac_pj: float
    energy_memory_pj: float
    breakdown_pj: dict[str, float]
    counts: dict[str, int]
    warnings: list[str]
    model_info: EnergyModelInfo
    config: SimpleEnergyConfig


class SimpleEnergyProfiler:
    """Context manager measuring one run for the simple energy model (MAC, AC, SynOp and neuromorphic memory
    counters together).

    Example::

        profiler = SimpleEnergyProfiler()
        profiler.bind_model(net)
        with profiler, torch.no_grad():
            net(x)
        report = profiler.get_report()
    """

    def __init__(self, *, config: SimpleEnergyConfig | None = None) -> None:
        self.config = copy.deepcopy(config or SimpleEnergyConfig())
        ignore = list(self.config.extra_ignore_modules or [])
        self.mac_counter = MACCounter(extra_ignore_modules=ignore)
        self.ac_counter = ACCounter(extra_ignore_modules=ignore)
        self.synop_counter = SynOpCounter(extra_ignore_modules=ignore)
        self.memory_counter = NeuromorphicMemoryAccessCounter(extra_ignore_modules=ignore)
        self._dispatch_mode = DispatchCounterMode([self.mac_counter, self.ac_counter, self.synop_counter])
        self._module_mode: ModuleCounterMode | None = None

    def bind_model(self, model: nn.Module) -> None:
        """Bind the model to profile (needed before entering the context)."""
        if self._module_mode is not None and self._module_mode._active:
            raise RuntimeError("SimpleEnergyProfiler.bind_model() cannot run while profiling")
        self._module_mode = ModuleCounterMode([self.memory_counter], model=model)

    def __enter__(self) -> SimpleEnergyProfiler:
        if self._module_mode is None:
            raise RuntimeError("SimpleEnergyProfiler.bind_model() must be called before entering")
        for counter in (self.mac_counter, self.ac_counter, self.synop_counter, self.memory_counter):
            counter.reset()
        self._module_mode.__enter__()
        try:
            self._dispatch_mode.__enter__()
        except BaseException:
            self._module_mode.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._dispatch_mode.__exit__(*exc)
        finally:
            self._module_mode.__exit__(*exc)

    def get_report(self) -> SimpleEnergyReport:
        """The report of the latest run."""
        mac, ac, synop = self.mac_counter.get_total(), self.ac_counter.get_total(), self.synop_counter.get_total()
        memory = self.memory_counter.get_counts()
        bytes_ = memory.get(GLOBAL_SCOPE, {})
        parameter_bytes = bytes_.get("weight_read_bytes", 0) + bytes_.get("bias_read_bytes", 0)
        state_bytes = bytes_.get("neuron_state_read_bytes", 0) + bytes_.get("neuron_state_write_bytes", 0)
        matched = any(c.get_counts().get(GLOBAL_SCOPE) for c in (self.mac_counter, self.ac_counter,
                                                                 self.synop_counter))
        warnings_list = []
        if not matched and not memory:
            message = ("SimpleEnergyProfiler did not match any supported operators. The model may not contain "
                       "supported operators for this estimator.")
            if self.config.strict:
                raise RuntimeError(message)
            warnings_list.append(message)
        cost = self.config.cost_config
        mac_pj, ac_pj = mac * cost.e_mac_pj, ac * cost.e_ac_pj
        parameter_pj, state_pj = parameter_bytes * cost.e_memory_pj_per_byte, state_bytes * cost.e_memory_pj_per_byte
        compute_pj, memory_pj = mac_pj + ac_pj, parameter_pj + state_pj
        return SimpleEnergyReport(
            energy_total_pj=compute_pj + memory_pj, energy_compute_pj=compute_pj, energy_mac_pj=mac_pj,
            energy_ac_pj=ac_pj, energy_memory_pj=memory_pj,
            breakdown_pj={"mac_pj": mac_pj, "ac_pj": ac_pj, "parameter_memory_pj": parameter_pj,
                          "neuron_state_memory_pj": state_pj, "memory_pj": memory_pj},
            counts={"mac": mac, "ac": ac, "synop": synop,
                    "weight_read_bytes": bytes_.get("weight_read_bytes", 0),
                    "bias_read_bytes": bytes_.get("bias_read_bytes", 0),
                    "neuron_state_read_bytes": bytes_.get("neuron_state_read_bytes", 0),
                    "neuron_state_write_bytes": bytes_.get("neuron_state_write_bytes", 0),
                    "memory_access_bytes": parameter_bytes + state_bytes},
            warnings=warnings_list, model_info=SIMPLE_MODEL_INFO, config=copy.deepcopy(self.config))

    def get_total(self) -> float:
        """Total energy of the latest run (pJ)."""
        return self.get_report().energy_total_pj

    def get_counts(self) -> dict[str, int]:
        """The counts of the latest run (see :class:`SimpleEnergyReport`)."""
        return self.get_report().counts


def estimate_simple_energy(model: nn.Module, inputs: Any, *,
                           config: SimpleEnergyConfig | None = None) -> SimpleEnergyReport:
    """Run ``model`` once on ``inputs`` (under ``torch.no_grad``; a tuple/list is unpacked as positional arguments,
    a dict as keyword arguments) and return its :class:`SimpleEnergyReport`. Default costs: 45 nm FP32; pass
    ``SimpleEnergyConfig(cost_config=SimpleEnergyCostConfig.fp16())`` (or ``int8()``) for other regimes."""
    profiler = SimpleEnergyProfiler(config=config)
    profiler.bind_model(model)
    with profiler, torch.no_grad():
        call_model(model, inputs)
    return profiler.get_report()
