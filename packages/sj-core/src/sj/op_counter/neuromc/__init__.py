"""NeuroMC runtime energy (see :mod:`sj.op_counter.neuromc.profiler`)."""

from sj.op_counter.neuromc.config import MemoryHierarchyConfig, MemoryInstanceSpec
from sj.op_counter.neuromc.profiler import (
    NeuroMCEnergyProfiler,
    NeuroMCRuntimeEnergyReport,
    estimate_neuromc_runtime_energy,
)

__all__ = ["MemoryHierarchyConfig", "MemoryInstanceSpec", "NeuroMCEnergyProfiler", "NeuroMCRuntimeEnergyReport",
           "estimate_neuromc_runtime_energy"]
