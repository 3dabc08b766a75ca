"""NeuroMC's mapping of a layer computation (a *fragment*) onto its cores and memory hierarchy."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from math import ceil

from sj.op_counter.neuromc.config import MemoryHierarchyConfig, MemoryInstanceSpec

# level -> direction -> amount; directions: rh2l / wh2l (read from / write towards the lower level), rl2h / wl2h
Traffic = defaultdict


def traffic(kind: type) -> Traffic:
    """An empty traffic table: memory level → direction (``rh2l``, ``wh2l``, ``rl2h``, ``wl2h``) → amount, missing
    entries ``kind()`` (``int`` for bits moved, ``float`` for energy in pJ)."""
    return defaultdict(lambda: defaultdict(kind))


@dataclass
class Fragment:
    """One layer computation as NeuroMC maps it: its ``stage`` and ``phase`` (forward, backward, optimizer), the
    operation (``op_name``), the core that runs it (``core_type``: ``fp_soma`` spiking forward, ``ann_fe`` dense
    forward, ``bp_grad``/``ann_be`` input gradients, ``wg``/``ann_we`` weight gradients, BN and optimizer cores),
    the extra processing (``process_key``: ``with_nothing``, ``with_sg`` soma and surrogate, ``with_bn``,
    ``with_opt``), the loop dimensions ``B T C K OY OX FY FX``, precisions (bits), tensor sizes and MACs."""

    stage: str
    phase: str
    op_name: str
    core_type: str
    process_key: str
    loop_dims: dict[str, int]
    input_precision_bits: int
    weight_precision_bits: int
    output_precision_bits: int
    input_numel: int
    weight_numel: int
    output_numel: int
    mac_count: int
    conv_type: str = "--"
    b_type: int = 0
    t_type: int = 0
    source: str = "trace"
    optimizer_has_momentum: bool = False
    optimizer_has_weight_decay: bool = False
    optimizer_has_momentum_buffer: bool = False

    def overlap_signature(self) -> tuple:
        """What identifies the same computation seen by a module hook and by the operator trace."""
        d = self.loop_dims
        dims = (("BT", d["B"] * d["T"]), ("C", d["C"]), ("K", d["K"]), ("OY", d["OY"]), ("OX", d["OX"]),
                ("FY", d["FY"]), ("FX", d["FX"]))
        return (self.stage, self.phase, self.core_type, self.process_key, dims, self.input_precision_bits,
                self.weight_precision_bits, self.output_precision_bits, self.input_numel, self.weight_numel,
                self.output_numel, self.mac_count, self.conv_type, self.b_type, self.t_type)


def accumulate(bits_out: Traffic, energy_out: Traffic, *, level: str, direction: str, bits: int,
               spec: MemoryInstanceSpec, config: MemoryHierarchyConfig) -> None:
    """Add ``bits`` moved at ``level`` in ``direction`` through memory ``spec``, and their energy (accesses of the
    instance's bandwidth × cost per access), unless the paper's energy leaves that traffic out."""
    if bits <= 0:
        return
    if (level == "dram" and config.zero_dram_in_paper_energy) or (level == "noc" and config.zero_noc_in_paper_energy):
        return
    if level == "sram" and config.zero_sram_high_directions and direction in ("rl2h", "wh2l"):
        return
    bits_out[level][direction] += bits
    reading = direction.startswith("r")
    bandwidth = spec.r_bw if reading else spec.w_bw
    if bandwidth > 0:
        energy_out[level][direction] += bits / bandwidth * (spec.r_cost if reading else spec.w_cost)


# core type -> (register input, weight, output; SRAM input, weight, output)
_CORE_MEMORIES = {
    "fp_soma": ("reg_1b", "reg_16b", "reg_16b", "sram_fp_conv_in_s", "sram_fp_conv_in_w", "sram_fp_conv_out_xi"),
    "ann_fe": ("reg_16b", "reg_16b", "reg_16b", "sram_fp_conv_in_w", "sram_fp_conv_in_w", "sram_fp_conv_out_xi"),
    "bp_grad": ("reg_16b", "reg_16b", "reg_16b", "sram_bp_conv_in_du", "sram_bp_conv_in_w", "sram_bp_conv_out_res"),
    "ann_be": ("reg_16b", "reg_16b", "reg_16b", "sram_bp_conv_in_du", "sram_bp_conv_in_w", "sram_bp_conv_out_res"),
    "wg": ("reg_1b", "reg_16b", "reg_16b", "sram_wg_conv_in_s", "sram_wg_conv_in_du", "sram_wg_conv_out_dw"),
    "ann_we": ("reg_16b", "reg_16b", "reg_16b", "sram_wg_conv_in_du", "sram_wg_conv_in_du", "sram_wg_conv_out_dw"),
}


def base_memory(fragment: Fragment, config: MemoryHierarchyConfig) -> tuple[Traffic, Traffic]:
    """Register and SRAM traffic (bits) and energy (pJ) of a fragment's MACs, with 16-wide spatial unrolling."""
    bits, energy = traffic(int), traffic(float)
    names = _CORE_MEMORIES.get(fragment.core_type)
    if fragment.mac_count == 0 or names is None:
        return bits, energy
    reg_i, reg_w, reg_o, sram_i, sram_w, sram_o = (config.memory_instances[n] for n in names)

    def add(level: str, direction: str, elements: int, precision: int, spec: MemoryInstanceSpec) -> None:
        accumulate(bits, energy, level=level, direction=direction, bits=elements * precision, spec=spec,
                   config=config)

    mac, outputs, dims = fragment.mac_count, fragment.output_numel, fragment.loop_dims
    p_in, p_w, p_out = fragment.input_precision_bits, fragment.weight_precision_bits, fragment.output_precision_bits
    if fragment.core_type in ("wg", "ann_we"):
        unroll_in, unroll_w = min(dims["K"], 16), min(dims["C"], 16)
        for direction in ("rh2l", "wh2l"):
            add("reg", direction, mac, p_in, reg_i)
            add("reg", direction, mac, p_w, reg_w)
        add("reg", "rl2h", outputs, p_out, reg_o)
        add("reg", "rh2l", mac - outputs, p_out, reg_o)
        add("reg", "wl2h", mac, p_out, reg_o)
        add("sram", "rh2l", (mac + unroll_in - 1) // unroll_in, p_in, sram_i)
        add("sram", "rh2l", (mac + unroll_w - 1) // unroll_w, p_w, sram_w)
        add("sram", "wl2h", outputs, p_out, sram_o)
        return bits, energy
    reduction = dims["K"] if fragment.core_type in ("bp_grad", "ann_be") else dims["C"]
    chunks = ceil(reduction / 16) * dims["FY"] * dims["FX"]
    partial, streamed = outputs * (chunks - 1), outputs * chunks
    for direction in ("rh2l", "wh2l"):
        add("reg", direction, mac, p_in, reg_i)
    reuse_weight = (fragment.b_type or fragment.t_type) and fragment.weight_numel * p_w <= sram_w.size_bits
    if not reuse_weight:
        for direction in ("rh2l", "wh2l"):
            add("reg", direction, fragment.weight_numel, p_w, reg_w)
        add("sram", "rh2l", fragment.weight_numel, p_w, sram_w)
    add("reg", "rl2h", mac, p_out, reg_o)
    add("reg", "rh2l", mac - outputs, p_out, reg_o)
    add("reg", "wh2l", mac, p_out, reg_o)
    add("reg", "wl2h", partial, p_out, reg_o)
    add("sram", "rh2l", streamed, p_in, sram_i)
    add("sram", "rh2l", partial, p_out, sram_o)
    add("sram", "wl2h", streamed, p_out, sram_o)
    return bits, energy
