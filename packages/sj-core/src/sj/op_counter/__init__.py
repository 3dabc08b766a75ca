"""Operation counts and energy estimates of a run (SpikingJelly 2.0's ``activation_based.op_counter``; docs:
``docs/op_counter.md``).

Counters (what is counted) — :class:`SynOpCounter`, :class:`ACCounter`, :class:`MACCounter`, :class:`FlopCounter`,
:class:`MemoryAccessCounter`, :class:`NeuronStateCounter` (operator level, in a :class:`DispatchCounterMode`) and
:class:`NeuromorphicMemoryAccessCounter` (module level, in a :class:`ModuleCounterMode`); energy models — simple
(Horowitz 2014), Lemaire et al. 2022, SpikeSim, NeuroMC — each with a config, a profiler, a report and an
``estimate_*`` function. sj neurons are counted from their declarations in both step modes and on every backend
(:mod:`sj.op_counter.neuron_ops`).
"""

from sj.op_counter.ac import ACCounter
from sj.op_counter.base import (
    ActiveModuleTracker,
    BaseCounter,
    DispatchCounterMode,
    EnergyModelInfo,
    FunctionCounterMode,
    ModuleCounter,
    ModuleCounterMode,
    is_binary_tensor,
)
from sj.op_counter.flop import FlopCounter
from sj.op_counter.lemaire import (
    LemaireEnergyConfig,
    LemaireEnergyCostConfig,
    LemaireEnergyProfiler,
    LemaireEnergyReport,
    estimate_lemaire_energy,
)
from sj.op_counter.mac import MACCounter
from sj.op_counter.memory_access import MemoryAccessCounter
from sj.op_counter.neuromc import (
    MemoryHierarchyConfig,
    MemoryInstanceSpec,
    NeuroMCEnergyProfiler,
    NeuroMCRuntimeEnergyReport,
    estimate_neuromc_runtime_energy,
)
from sj.op_counter.neuromorphic_memory_access import NeuromorphicMemoryAccessCounter
from sj.op_counter.neuron_state import NeuronStateCounter
from sj.op_counter.simple_energy import (
    SimpleEnergyConfig,
    SimpleEnergyCostConfig,
    SimpleEnergyProfiler,
    SimpleEnergyReport,
    estimate_simple_energy,
)
from sj.op_counter.spikesim import (
    SpikeSimCounter,
    SpikeSimEnergyConfig,
    SpikeSimEnergyProfiler,
    SpikeSimEnergyReport,
    estimate_spikesim_energy,
)
from sj.op_counter.synop import SynOpCounter

__all__ = [
    "ACCounter", "ActiveModuleTracker", "BaseCounter", "DispatchCounterMode", "EnergyModelInfo", "FlopCounter",
    "FunctionCounterMode", "LemaireEnergyConfig", "LemaireEnergyCostConfig", "LemaireEnergyProfiler",
    "LemaireEnergyReport", "MACCounter", "MemoryAccessCounter", "MemoryHierarchyConfig", "MemoryInstanceSpec",
    "ModuleCounter", "ModuleCounterMode", "NeuroMCEnergyProfiler", "NeuroMCRuntimeEnergyReport",
    "NeuromorphicMemoryAccessCounter", "NeuronStateCounter", "SimpleEnergyConfig", "SimpleEnergyCostConfig",
    "SimpleEnergyProfiler", "SimpleEnergyReport", "SpikeSimCounter", "SpikeSimEnergyConfig", "SpikeSimEnergyProfiler",
    "SpikeSimEnergyReport", "SynOpCounter", "estimate_lemaire_energy", "estimate_neuromc_runtime_energy",
    "estimate_simple_energy", "estimate_spikesim_energy", "is_binary_tensor",
]
