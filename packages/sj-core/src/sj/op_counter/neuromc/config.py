"""NeuroMC's memory hierarchy: the register files, SRAM buffers and DRAM of the v1 preset (32 nm)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MemoryHierarchyConfig", "MemoryInstanceSpec"]


@dataclass(frozen=True)
class MemoryInstanceSpec:
    """One memory instance: ``size_bits``, ``datawidth`` (bits), read/write bandwidth (``r_bw``/``w_bw``, bits per
    access) and energy per access (``r_cost``/``w_cost``, pJ)."""

    name: str
    size_bits: int
    datawidth: int
    r_bw: int
    w_bw: int
    r_cost: float
    w_cost: float


def _symmetric(name: str, size_bits: int, datawidth: int, bandwidth: int, cost: float) -> MemoryInstanceSpec:
    return MemoryInstanceSpec(name, size_bits, datawidth, bandwidth, bandwidth, cost, cost)


_REG_16B_PJ = 0.14416 / 7.1 * 2  # register costs scaled to 32 nm as NeuroMC does
_SRAM_SPIKE_PJ, _SRAM_W_PJ, _SRAM_ACT_PJ = 0.44854798, 5.302477904, 5.792676768
_SRAM_U_PJ, _SRAM_MASK_PJ = 92.68282828, 7.176767677

NEUROMC_V1_INSTANCES: dict[str, MemoryInstanceSpec] = {spec.name: spec for spec in (
    _symmetric("reg_1b", 1, 1, 1, 0.00901 / 7.1 * 2),
    _symmetric("reg_16b", 16, 16, 16, _REG_16B_PJ),
    _symmetric("reg_32b", 32, 32, 32, 2 * _REG_16B_PJ),
    _symmetric("sram_fp_conv_in_s", 18496 * 16, 1, 1, _SRAM_SPIKE_PJ),
    _symmetric("sram_fp_conv_in_w", 18432 * 256, 16, 16, _SRAM_W_PJ),
    _symmetric("sram_fp_conv_out_xi", 65536 * 16, 16, 16, _SRAM_ACT_PJ),
    _symmetric("sram_fp_soma_u", 1048576, 16, 256, _SRAM_U_PJ),
    _symmetric("sram_fp_soma_s", 262144, 1, 16, _SRAM_MASK_PJ),
    _symmetric("sram_fp_soma_smask", 65536, 1, 16, _SRAM_MASK_PJ),
    _symmetric("sram_bp_conv_in_du", 73984 * 16, 16, 16, _SRAM_ACT_PJ),
    _symmetric("sram_bp_conv_in_w", 18432 * 256, 16, 16, _SRAM_W_PJ),
    _symmetric("sram_bp_conv_out_res", 65536 * 16, 16, 16, _SRAM_ACT_PJ),
    _symmetric("sram_bp_grad_in_u", 1048576, 16, 256, _SRAM_U_PJ),
    _symmetric("sram_bp_grad_in_smask", 65536, 1, 16, _SRAM_MASK_PJ),
    _symmetric("sram_bp_grad_in_s", 65536, 1, 16, _SRAM_MASK_PJ),
    _symmetric("sram_bp_grad_out_du", 1048576, 16, 256, _SRAM_U_PJ),
    _symmetric("sram_wg_conv_in_s", 4624 * 16, 1, 1, _SRAM_SPIKE_PJ),
    _symmetric("sram_wg_conv_in_du", 65536 * 16, 16, 16, _SRAM_ACT_PJ),
    _symmetric("sram_wg_conv_out_dw", 18432 * 256, 16, 16, _SRAM_W_PJ),
    MemoryInstanceSpec("sram_2MB", 1048576 * 16, 16, 256, 256, 46.976, 45.96),
    MemoryInstanceSpec("sram_6MB", 50331648, 16, 256, 256, 458.1830181, 375.0422185),
    _symmetric("dram", 134217728 * 64, 16, 64, 1300.0),
)}


@dataclass
class MemoryHierarchyConfig:
    """The NeuroMC v1 memory hierarchy.

    ``memory_instances`` (name → :class:`MemoryInstanceSpec`; every instance of the v1 preset must be present),
    ``level_order``, and which traffic the paper's energy leaves out: DRAM (``zero_dram_in_paper_energy``), the
    network on chip (``zero_noc_in_paper_energy``), SRAM reads towards higher levels and writes towards lower ones
    (``zero_sram_high_directions``). ``preset_name`` and ``technology_nm`` are fixed report metadata.
    """

    level_order: tuple[str, str, str, str] = ("dram", "sram", "reg", "noc")
    memory_instances: dict[str, MemoryInstanceSpec] = field(default_factory=lambda: dict(NEUROMC_V1_INSTANCES))
    zero_dram_in_paper_energy: bool = True
    zero_noc_in_paper_energy: bool = True
    zero_sram_high_directions: bool = True

    @property
    def preset_name(self) -> str:
        return "neuromc_like_v1"

    @property
    def technology_nm(self) -> int:
        return 32

    def validate(self) -> None:
        """Raise ``ValueError`` naming the required memory instances that are missing."""
        missing = sorted(set(NEUROMC_V1_INSTANCES) - set(self.memory_instances))
        if missing:
            raise ValueError(f"Missing required NeuroMC memory instances: {missing}.")
