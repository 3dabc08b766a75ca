"""NeuroMC's processing beyond MACs: soma and surrogate gradient, batch norm and optimizer updates (operations and
their register/SRAM traffic), with the costs of the NeuroMC v1 preset."""

from __future__ import annotations

from sj.op_counter.neuromc.config import MemoryHierarchyConfig
from sj.op_counter.neuromc.mapping import Fragment, Traffic, accumulate, traffic

PRIMITIVES = ("mux", "add", "mul", "comp", "sqrt")
EXTRA_OP_COST_PJ = {"mux": 0.548 / 16.0, "add": 0.548, "mul": 0.812, "comp": 0.056, "sqrt": 0.514}
MAC_COST_PJ = {"fp_soma": 0.548 + 0.548 / 16.0, "bp_grad": 0.548 + 0.812, "wg": 0.548 + 0.548 / 16.0,
               "ann_fe": 0.548 + 0.812, "ann_be": 0.548 + 0.812, "ann_we": 0.548 + 0.812}


def _optimizer_params(fragment: Fragment) -> int:
    d = fragment.loop_dims
    return d["K"] + d["FX"] * d["FY"] * d["C"]


def _sizes(fragment: Fragment) -> dict[str, int]:
    """Element counts of the quantities the processing steps touch."""
    d = fragment.loop_dims
    optimizer = fragment.process_key == "with_opt"
    return {"OYOXKBT": d["OY"] * d["OX"] * d["K"] * d["B"] * d["T"],
            "OYOXCBT": d["OY"] * d["OX"] * d["C"] * d["B"] * d["T"],
            "CT": d["C"] * d["T"],
            "KT": d["K"] if optimizer else d["K"] * d["T"],
            "FYFXKC": d["FY"] * d["FX"] * d["C"] if optimizer else d["FY"] * d["FX"] * d["K"] * d["C"]}


def extra_counts(fragment: Fragment) -> dict[str, int]:
    """Primitive operations (mux, add, mul, comp, sqrt) of a fragment's processing."""
    n = _sizes(fragment)
    counts = dict.fromkeys(PRIMITIVES, 0)
    key, forward = fragment.process_key, fragment.phase == "forward"
    if key == "with_sg" and forward:  # membrane update, firing comparisons and reset
        counts.update(mux=n["OYOXKBT"], add=n["OYOXKBT"], mul=n["OYOXKBT"], comp=3 * n["OYOXKBT"])
    elif key == "with_sg":  # surrogate gradient through time
        counts.update(mux=n["OYOXCBT"], add=2 * n["OYOXCBT"], mul=4 * n["OYOXCBT"])
    elif key == "with_bn" and forward:
        counts.update(add=3 * n["OYOXKBT"] + 2 * n["KT"], mul=3 * n["OYOXKBT"] + 4 * n["KT"], sqrt=n["KT"])
    elif key == "with_bn" and fragment.conv_type != "without_bp_bn":
        counts.update(add=7 * n["OYOXCBT"], mul=3 * n["OYOXCBT"] + 22 * n["CT"])
    elif key == "with_opt" and fragment.op_name in ("adam", "adamw"):
        counts.update(add=8 * n["KT"] + 4 * n["FYFXKC"], mul=22 * n["KT"] + 11 * n["FYFXKC"],
                      sqrt=2 * n["KT"] + n["FYFXKC"])
    elif key == "with_opt" and fragment.op_name == "sgd":
        params = _optimizer_params(fragment)
        terms = 1 + fragment.optimizer_has_weight_decay + (
            fragment.optimizer_has_momentum and fragment.optimizer_has_momentum_buffer)
        counts.update(add=terms * params, mul=terms * params)
    return counts


# variable -> (size key, bits per element, register, SRAM, reads towards the core, levels it is written back at)
_R, _W, _BOTH, _NONE = "reg_16b", "sram_2MB", ("reg", "sram"), ()
_VARIABLES: dict[tuple[str, str], dict[str, tuple[str, int, str, str, int, tuple[str, ...]]]] = {
    ("with_sg", "forward"): {
        "fp_yi1": ("OYOXKBT", 16, _R, "sram_fp_conv_out_xi", 1, _BOTH),
        "fp_u_l": ("OYOXKBT", 16, _R, "sram_fp_soma_u", 1, _BOTH),
        "fp_s_l": ("OYOXKBT", 1, "reg_1b", "sram_fp_soma_s", 1, _BOTH),
        "fp_smask_l": ("OYOXKBT", 1, "reg_1b", "sram_fp_soma_smask", 0, _BOTH)},
    ("with_sg", "backward"): {
        "bp_conv_res": ("OYOXCBT", 16, _R, "sram_bp_conv_out_res", 1, _NONE),
        "bp_u_l_pre": ("OYOXCBT", 16, _R, "sram_bp_grad_in_u", 1, ("sram",)),
        "bp_s_l_pre": ("OYOXCBT", 1, "reg_1b", "sram_bp_grad_in_s", 1, _NONE),
        "bp_smask_l_pre": ("OYOXCBT", 1, "reg_1b", "sram_bp_grad_in_smask", 1, _NONE),
        "bp_du_l_pre": ("OYOXCBT", 16, _R, "sram_bp_grad_out_du", 1, ("reg",))},
    ("with_bn", "forward"): {
        "fp_bn_mean_v": ("KT", 16, _R, _W, 2, _BOTH), "fp_bn_variance": ("KT", 16, _R, _W, 1, _BOTH),
        "fp_bn_n": ("OYOXKBT", 16, _R, _W, 1, _BOTH), "fp_bn_sqrt": ("KT", 16, _R, _W, 1, _BOTH),
        "fp_bn_xi_": ("OYOXKBT", 16, _R, _W, 1, _BOTH), "fp_bn_y": ("KT", 16, _R, _W, 1, _NONE),
        "fp_bn_b": ("KT", 16, _R, _W, 1, _NONE)},
    ("with_bn", "backward"): {
        "bp_bn_du_l_pre1": ("OYOXCBT", 16, _R, _W, 2, _NONE), "bp_bn_sqrt": ("CT", 16, _R, _W, 2, _NONE),
        "bp_bn_y": ("CT", 16, _R, _W, 2, _NONE), "bp_bn_m": ("OYOXCBT", 16, _R, _W, 3, _BOTH),
        "bp_bn_n": ("OYOXCBT", 16, _R, _W, 3, _NONE), "bp_bn_sigma_m": ("CT", 16, _R, _W, 1, _BOTH),
        "bp_bn_sigma_n": ("CT", 16, _R, _W, 1, _BOTH), "bp_bn_sigma_mn": ("CT", 16, _R, _W, 2, _BOTH),
        "bp_bn_dy": ("CT", 16, _R, _W, 0, _BOTH), "bp_bn_db": ("CT", 16, _R, _W, 0, _BOTH),
        "bp_bn_du_l_pre2": ("OYOXCBT", 16, _R, _W, 0, _BOTH)},
}
# Adam/AdamW: parameters (y: BN scale, b: biases, w: weights), their gradients, moments and bias-corrected moments
# (read and written back), and the updated parameters (written)
_ADAM_VARIABLES = {
    f"opt_{name}{p}": ("KT" if p in ("y", "b") else "FYFXKC", 32, "reg_32b", "sram_6MB", reads, levels)
    for name, reads, levels in (("", 1, _NONE), ("d", 1, _NONE), ("v_", 1, _BOTH), ("s_", 1, _BOTH),
                                ("vbc_", 1, _BOTH), ("sbc_", 1, _BOTH))
    for p in ("y", "b", "w")}
_ADAM_VARIABLES.update({f"opt_{p}_updated": ("KT" if p in ("y", "b") else "FYFXKC", 32, "reg_32b", "sram_6MB", 0,
                                             _BOTH) for p in ("y", "b", "w")})


def extra_memory(fragment: Fragment, config: MemoryHierarchyConfig) -> tuple[Traffic, Traffic]:
    """Register and SRAM traffic (bits) and energy (pJ) of a fragment's processing."""
    bits, energy = traffic(int), traffic(float)
    specs = config.memory_instances
    if fragment.process_key == "with_nothing":
        return bits, energy
    if fragment.process_key == "with_opt" and fragment.op_name == "sgd":
        total = _optimizer_params(fragment) * 32
        reads = 2 + (fragment.optimizer_has_momentum and fragment.optimizer_has_momentum_buffer)
        writes = 1 + fragment.optimizer_has_momentum
        for direction, times in (("rh2l", reads), ("wl2h", writes)):
            for _ in range(times):
                accumulate(bits, energy, level="sram", direction=direction, bits=total, spec=specs["sram_6MB"],
                           config=config)
        return bits, energy
    if fragment.process_key == "with_opt":
        variables = _ADAM_VARIABLES if fragment.op_name in ("adam", "adamw") else {}
    else:
        variables = _VARIABLES.get((fragment.process_key, fragment.phase), {})
    sizes = _sizes(fragment)
    for size_key, width, reg, sram, reads, written in variables.values():
        total = sizes[size_key] * width
        for level, spec in (("reg", specs[reg]), ("sram", specs[sram])):
            accumulate(bits, energy, level=level, direction="rh2l", bits=total * reads, spec=spec, config=config)
            accumulate(bits, energy, level=level, direction="wl2h", bits=total if level in written else 0, spec=spec,
                       config=config)
    return bits, energy


