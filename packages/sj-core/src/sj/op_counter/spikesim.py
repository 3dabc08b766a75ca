"""SpikeSim (Moitra et al., TCAD 2023): energy of Conv2d inference on IMC crossbar tiles, per PE cycle; the
``dense`` mode reproduces the authors' code (commit c2627bc), ``event`` charges only active patches and rows."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sj.neuron import IFNode, LIFNode
from sj.op_counter import neuron_ops
from sj.op_counter.base import GLOBAL_SCOPE, BaseCounter, DispatchCounterMode, EnergyModelInfo, call_model
from sj.op_counter.spike_ops import spike_count, untraced

__all__ = ["SpikeSimCounter", "SpikeSimEnergyConfig", "SpikeSimEnergyProfiler", "SpikeSimEnergyReport",
           "estimate_spikesim_energy"]

ROW_DIVISOR = 8.0  # SpikeSim's crossbar rows per ADC share
SOURCES = ("https://doi.org/10.1109/TCAD.2023.3274918",
           "https://github.com/Intelligent-Computing-Lab-Yale/SpikeSim/commit/c2627bc091a47bdcb630ca6207eaf44a00bd1da4")
_COSTS = ("tile_buffer_pj", "temp_buffer_pj", "sub_pj", "adc_pj", "htree_pj", "mux_pj", "mem_fetch_pj", "neuron_pj",
          "rram_xbar_pj", "sram_xbar_pj")


@dataclass
class SpikeSimEnergyConfig:
    """Crossbar configuration and unit costs (pJ) of SpikeSim, 65 nm.

    ``xbar_size`` (crossbar rows/columns, 64), ``device`` (``"rram"`` or ``"sram"`` crossbars), ``activity_mode``
    (``"dense"``: every PE cycle, as SpikeSim; ``"event"``: only patches, rows and output sites with spikes),
    ``require_if_lif_neurons`` (SpikeSim models IF/LIF neurons: others raise or warn), then the component costs.
    """

    xbar_size: int = 64
    device: str = "rram"
    activity_mode: str = "dense"
    require_if_lif_neurons: bool = True
    tile_buffer_pj: float = 397.0
    temp_buffer_pj: float = 0.2
    sub_pj: float = 1.15e-06
    adc_pj: float = 2.03084
    htree_pj: float = 19.64 * 8.0
    mux_pj: float = 0.094245
    mem_fetch_pj: float = 4.64
    neuron_pj: float = 1.274 * 4.0
    rram_xbar_pj: float = 1.76423
    sram_xbar_pj: float = 671.089

    def copy(self) -> SpikeSimEnergyConfig:
        """An independent copy."""
        return replace(self)

    def validate(self) -> None:
        """Raise ``ValueError`` for an invalid option or cost."""
        if self.xbar_size <= 0:
            raise ValueError(f"xbar_size must be positive, got {self.xbar_size}.")
        if self.device not in ("rram", "sram"):
            raise ValueError(f"device must be 'rram' or 'sram', got {self.device}.")
        if self.activity_mode not in ("dense", "event"):
            raise ValueError(f"activity_mode must be 'dense' or 'event', got {self.activity_mode}.")
        for name in _COSTS:
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and nonnegative.")

    @property
    def xbar_array_energy_pj(self) -> float:
        """Energy of one crossbar array read for the configured device."""
        return self.rram_xbar_pj if self.device == "rram" else self.sram_xbar_pj

    @property
    def patch_control_energy_pj(self) -> float:
        """Peripheral energy of one patch (H-tree, fetch, buffers, subtractors, ADCs and muxes)."""
        rows = self.xbar_size / ROW_DIVISOR
        return (self.htree_pj + self.mem_fetch_pj + self.tile_buffer_pj + rows * 16.0 * self.sub_pj
                + rows * self.temp_buffer_pj + rows * rows * (self.adc_pj + self.mux_pj))

    def pe_cycle_energy_for_kernel_pj(self, kernel_size: tuple[int, int]) -> float:
        """Energy of one PE cycle for a ``(k_h, k_w)`` kernel."""
        if len(kernel_size) != 2:
            raise ValueError(f"kernel_size must be a tuple of length 2, got {kernel_size}.")
        k_h, k_w = kernel_size
        if k_h <= 0 or k_w <= 0:
            raise ValueError(f"kernel_size dimensions must be positive, got ({k_h}, {k_w}).")
        return (self.patch_control_energy_pj + self.neuron_pj
                + self.xbar_size / ROW_DIVISOR * float(k_h) * float(k_w) * self.xbar_array_energy_pj)

    def xbar_row_energy_pj(self, tile_channels: int) -> float:
        """Crossbar energy per active row of a tile holding ``tile_channels`` input channels (padded tiles cost the
        full crossbar)."""
        if tile_channels <= 0:
            raise ValueError(f"tile_channels must be positive, got {tile_channels}.")
        padded = math.ceil(tile_channels / self.xbar_size) * self.xbar_size / float(tile_channels)
        return self.xbar_array_energy_pj / ROW_DIVISOR * padded


@dataclass
class _StageStats:
    dense_pe_cycle_count: int = 0
    active_patch_tile_count: int = 0
    active_row_count: int = 0
    active_row_count_by_tile: list[int] | None = None
    active_output_tile_site_count: int = 0
    dense_patch_tile_count: int = 0
    dense_row_count: int = 0
    dense_row_count_by_tile: list[int] | None = None
    dense_output_tile_site_count: int = 0


@dataclass
class _StageMetadata:
    scope: str
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    out_channel_tiles: int
    input_tile_channels: list[int]
    total_calls: int = 0
    event_driven_calls: int = 0
    dense_fallback_calls: int = 0
    shape_mismatch_detected: bool = False


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if len(value) != 2:
        raise ValueError(f"expected a pair, but got {value}.")
    return int(value[0]), int(value[1])


def _add_by_tile(total: list[int] | None, values: list[int], first: bool) -> list[int] | None:
    """Element-wise accumulation of per-tile counts (``None`` once two calls disagree on the tiling)."""
    if first:
        total = [0] * len(values)
    if total is None or len(total) != len(values):
        return None
    return [a + b for a, b in zip(total, values)]


class SpikeSimCounter(BaseCounter):
    """Counts SpikeSim's PE cycles, active patches, rows and output sites of every ``nn.Conv2d`` forward call
    (eval mode, no grad), per stage (the convolution's scope), for :class:`DispatchCounterMode`. Other convolutions
    (transposed, grouped, not 2-d, outside an ``nn.Conv2d``) raise ``NotImplementedError`` when ``strict``, else
    are left out with a warning.

    Args:
        config: the crossbar configuration.
        strict: raise instead of warning.
    """

    def __init__(self, *, config: SpikeSimEnergyConfig, strict: bool) -> None:
        super().__init__()
        self.config = config
        self.strict = strict
        self.rules = {torch.ops.aten.convolution.default: self._count_convolution}
        self.reset()

    def reset(self) -> None:
        """Forget every stage and warning."""
        super().reset()
        self.stage_stats: dict[str, _StageStats] = defaultdict(_StageStats)
        self.stage_metadata: dict[str, _StageMetadata] = {}
        self.warnings: list[str] = []
        self._warning_keys: set[str] = set()

    def count(self, func: Any, args: tuple, kwargs: dict, out: Any, active_modules: set[nn.Module] | None = None,
              parent_names: set[str] | None = None) -> int:
        """Dense PE cycles of one convolution (its statistics are accumulated in its stage)."""
        return int(self.rules[func](args, kwargs, out, active_modules=active_modules, parent_names=parent_names))

    def _warn_or_raise(self, key: str, message: str) -> None:
        if key in self._warning_keys:
            return
        self._warning_keys.add(key)
        if self.strict:
            raise NotImplementedError(message)
        self.warnings.append(message)

    def _tile_channels(self, in_channels: int) -> list[int]:
        size = self.config.xbar_size
        return [min(size, in_channels - start) for start in range(0, in_channels, size)]

    def _dense_counts(self, w: torch.Tensor, out: torch.Tensor, out_tiles: int) -> tuple[int, int, list[int], int]:
        sites = int(out.shape[0] * out.shape[2] * out.shape[3])
        tiles = self._tile_channels(int(w.shape[1]))
        rows = [sites * c * int(w.shape[2]) * int(w.shape[3]) for c in tiles]
        return sites * len(tiles), sum(rows), rows, out_tiles * sites

    def _event_counts(self, x: torch.Tensor, w: torch.Tensor, stride, padding, dilation,
                      out_tiles: int) -> tuple[int, int, list[int], int]:
        size = self.config.xbar_size
        n_tiles = math.ceil(x.shape[1] / size)
        with untraced():
            padded = F.pad(x, (0, 0, 0, 0, 0, n_tiles * size - x.shape[1]))
            tile_sums = padded.reshape(x.shape[0], n_tiles, size, *x.shape[2:]).sum(dim=2).float()
            ones = tile_sums.new_ones((n_tiles, 1, int(w.shape[2]), int(w.shape[3])))
            occupancy = F.conv2d(tile_sums, ones, None, stride, padding, dilation, n_tiles)
            active = occupancy.gt(0)
            rows = [int(v) for v in occupancy.sum(dim=(0, 2, 3), dtype=torch.float64).tolist()]
            return (int(active.sum()), sum(rows), rows, out_tiles * int(active.any(dim=1).sum()))

    def _count_convolution(self, args: tuple, kwargs: dict, out: torch.Tensor, *, active_modules=None,
                           parent_names=None) -> int:
        names = [n for n in parent_names or () if n != GLOBAL_SCOPE]
        scope = max(names, key=lambda n: (n.count("."), len(n))) if names else GLOBAL_SCOPE
        x, w = args[0], args[1]
        stride, padding, dilation, transposed, groups = args[3], args[4], args[5], bool(args[6]), int(args[8])
        convs = [m for m in active_modules or () if isinstance(m, nn.Conv2d)]
        if transposed:
            self._warn_or_raise(f"transposed-conv:{scope}", "SpikeSim energy only covers original SpikeSim Conv2d "
                                f"inference stages; transposed convolutions are outside scope: {scope}.")
            return 0
        if len(convs) != 1 or convs[0].training or torch.is_grad_enabled():
            self._warn_or_raise(f"outside-scope:{scope}", "SpikeSim energy only covers Conv2d forward inference "
                                f"stages from nn.Conv2d modules: {scope}.")
            return 0
        if groups != 1:
            self._warn_or_raise(f"grouped-conv:{scope}", "SpikeSim event energy does not support grouped/depthwise "
                                f"convolutions: {scope}.")
            return 0
        if x.dim() != 4 or w.dim() != 4 or out.dim() != 4:
            shapes = f"x.shape={tuple(x.shape)}, w.shape={tuple(w.shape)}, out.shape={tuple(out.shape)}"
            self._warn_or_raise(f"conv-rank:{scope}", "SpikeSim event energy only supports Conv2d-like calls, but "
                                f"got {shapes}.")
            return 0
        stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
        return self._update_stage(scope, x, w, out, stride, padding, dilation, spike_count(x) is not None)

    def _update_stage(self, scope: str, x: torch.Tensor, w: torch.Tensor, out: torch.Tensor, stride, padding,
                      dilation, spiking: bool) -> int:
        size = self.config.xbar_size
        out_tiles = math.ceil(w.shape[0] / size)
        kernel = (int(w.shape[2]), int(w.shape[3]))
        meta = self.stage_metadata.get(scope)
        if meta is None:
            meta = self.stage_metadata[scope] = _StageMetadata(
                scope, int(w.shape[1]), int(w.shape[0]), kernel, stride, padding, dilation, tuple(x.shape),
                tuple(out.shape), out_tiles, self._tile_channels(int(w.shape[1])))
        elif (meta.input_shape, meta.output_shape, meta.kernel_size, meta.stride, meta.padding, meta.dilation) != (
                tuple(x.shape), tuple(out.shape), kernel, stride, padding, dilation):
            meta.shape_mismatch_detected = True
            self._warn_or_raise(f"shape-mismatch:{scope}", f"SpikeSim stage '{scope}' was invoked with inconsistent "
                                "shapes; runtime energy is accumulated across calls anyway.")
        meta.total_calls += 1
        dense = self._dense_counts(w, out, out_tiles)
        if self.config.activity_mode == "event" and spiking:
            meta.event_driven_calls += 1
            active = self._event_counts(x, w, stride, padding, dilation, out_tiles)
        else:
            meta.dense_fallback_calls += 1
            active = dense
        cycles = math.ceil(int(w.shape[1]) / size) * out_tiles * int(out.shape[0] * out.shape[2] * out.shape[3])
        stats = self.stage_stats[scope]
        first = stats.dense_pe_cycle_count == 0 and meta.total_calls == 1
        stats.dense_pe_cycle_count += cycles
        stats.active_patch_tile_count += active[0]
        stats.active_row_count += active[1]
        stats.active_row_count_by_tile = _add_by_tile(stats.active_row_count_by_tile, active[2], first)
        stats.active_output_tile_site_count += active[3]
        stats.dense_patch_tile_count += dense[0]
        stats.dense_row_count += dense[1]
        stats.dense_row_count_by_tile = _add_by_tile(stats.dense_row_count_by_tile, dense[2], first)
        stats.dense_output_tile_site_count += dense[3]
        return cycles

    def get_stage_stats(self) -> dict[str, dict[str, Any]]:
        """``{stage: statistics}``."""
        return {stage: asdict(stats) for stage, stats in self.stage_stats.items()}

    def get_stage_metadata(self) -> dict[str, dict[str, Any]]:
        """``{stage: shapes, tiling and call counts}``."""
        return {stage: asdict(meta) for stage, meta in self.stage_metadata.items()}


def dense_breakdown(stats: Mapping[str, Any], metadata: Mapping[str, Any],
                    config: SpikeSimEnergyConfig) -> dict[str, float]:
    """SpikeSim's energy of a stage: PE cycles × PE-cycle energy."""
    total = float(stats["dense_pe_cycle_count"]) * config.pe_cycle_energy_for_kernel_pj(metadata["kernel_size"])
    return {"pe_cycle_pj": total, "total_pj": total}


def event_breakdown(stats: Mapping[str, Any], metadata: Mapping[str, Any],
                    config: SpikeSimEnergyConfig) -> dict[str, float]:
    """Event-driven energy of a stage: patch control per active patch tile, crossbar per active row (per tile),
    neurons per active output site."""
    if config.activity_mode != "event":
        return dense_breakdown(stats, metadata, config)
    out_tiles = float(metadata["out_channel_tiles"])
    patch = out_tiles * float(stats["active_patch_tile_count"]) * config.patch_control_energy_pj
    rows, tiles = stats.get("active_row_count_by_tile"), metadata.get("input_tile_channels")
    if (rows is None) != (tiles is None):
        raise ValueError("active_row_count_by_tile and input_tile_channels must either both be present or both be "
                         "absent.")
    if rows is not None:
        if len(rows) != len(tiles):
            raise ValueError(f"active_row_count_by_tile and input_tile_channels must have the same length, but got "
                             f"len(active_row_count_by_tile)={len(rows)} and len(input_tile_channels)={len(tiles)}.")
        xbar = out_tiles * sum(float(r) * config.xbar_row_energy_pj(int(c)) for r, c in zip(rows, tiles))
    else:
        xbar = out_tiles * float(stats["active_row_count"]) * config.xbar_row_energy_pj(metadata["in_channels"])
    neuron = (math.ceil(metadata["in_channels"] / config.xbar_size) * float(stats["active_output_tile_site_count"])
              * config.neuron_pj)
    return {"patch_control_pj": patch, "xbar_pj": xbar, "neuron_pj": neuron, "total_pj": patch + xbar + neuron}


@dataclass
class SpikeSimEnergyReport:
    """Result of SpikeSim (pJ): ``energy_total_pj``, per stage, per component (``{"totals": ..., "by_stage":
    ...}``), the statistics and metadata of every stage, ``counts`` (``dense_pe_cycle_count``, ``stage_count``)."""

    energy_total_pj: float
    energy_by_stage: dict[str, float]
    energy_by_component: dict[str, Any]
    event_stats_by_stage: dict[str, dict[str, Any]]
    stage_metadata: dict[str, dict[str, Any]]
    warnings: list[str]
    breakdown_pj: dict[str, float]
    counts: dict[str, int]
    model_info: EnergyModelInfo
    config: SpikeSimEnergyConfig


class SpikeSimEnergyProfiler:
    """Context manager measuring one inference run for SpikeSim (see :class:`SpikeSimCounter`).

    Args:
        config: crossbar configuration and costs (validated).
        strict: raise on what SpikeSim does not cover (and when no stage was profiled) instead of warning.
    """

    def __init__(self, *, config: SpikeSimEnergyConfig | None = None, strict: bool = True) -> None:
        self.config = (config or SpikeSimEnergyConfig()).copy()
        self.config.validate()
        self.strict = strict
        self._counter = SpikeSimCounter(config=self.config, strict=strict)
        self._dispatch_mode = DispatchCounterMode([self._counter])
        self._warnings: list[str] = []

    def __enter__(self) -> SpikeSimEnergyProfiler:
        self._counter.reset()
        self._dispatch_mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._dispatch_mode.__exit__(*exc)

    def get_report(self) -> SpikeSimEnergyReport:
        """The report of the latest run."""
        stats, metadata = self._counter.get_stage_stats(), self._counter.get_stage_metadata()
        breakdown = event_breakdown if self.config.activity_mode == "event" else dense_breakdown
        by_stage = {stage: breakdown(s, metadata[stage], self.config) for stage, s in stats.items()}
        totals: dict[str, float] = defaultdict(float)
        for parts in by_stage.values():
            for key, value in parts.items():
                if key != "total_pj":
                    totals[key] += value
        warnings_list = self._warnings + self._counter.warnings
        if not by_stage:
            message = "No supported Conv2d forward inference stages were profiled by SpikeSim energy."
            if self.strict:
                raise ValueError(message)
            warnings_list.append(message)
        total = sum(parts["total_pj"] for parts in by_stage.values())
        dense = self.config.activity_mode == "dense"
        info = EnergyModelInfo(
            model_id="spikesim_c2627bc_dense_v1" if dense else "spikingjelly_spikesim_event_v1",
            fidelity="reference-code" if dense else "spikingjelly-defined", source_urls=SOURCES, technology_nm=65,
            precision="SpikeSim crossbar and IF/LIF peripheral assumptions",
            scope="runtime Conv2d inference PE-cycle energy")
        return SpikeSimEnergyReport(
            energy_total_pj=total, energy_by_stage={k: v["total_pj"] for k, v in by_stage.items()},
            energy_by_component={"totals": {**totals, "total_pj": total}, "by_stage": by_stage},
            event_stats_by_stage=stats, stage_metadata=metadata, warnings=warnings_list, breakdown_pj=dict(totals),
            counts={"dense_pe_cycle_count": int(self._counter.get_total()), "stage_count": len(metadata)},
            model_info=info, config=self.config.copy())

    def get_total(self) -> float:
        """Total energy of the latest run (pJ)."""
        return self.get_report().energy_total_pj

    def get_counts(self) -> dict[str, Any]:
        """Per-stage statistics and metadata of the latest run."""
        report = self.get_report()
        return {"event_stats_by_stage": report.event_stats_by_stage, "stage_metadata": report.stage_metadata}


def estimate_spikesim_energy(model: nn.Module, inputs: Any, *, config: SpikeSimEnergyConfig | None = None,
                             strict: bool = True) -> SpikeSimEnergyReport:
    """Run ``model`` (in eval mode: ``strict`` raises otherwise) once on ``inputs`` without grad and return its
    :class:`SpikeSimEnergyReport`. With ``require_if_lif_neurons``, neurons other than IF/LIF raise (``strict``) or
    are reported in ``warnings``."""
    profiler = SpikeSimEnergyProfiler(config=config, strict=strict)
    training_message = "SpikeSim energy only covers forward inference; call model.eval() before profiling."
    if model.training and strict:
        raise ValueError(training_message)
    if profiler.config.require_if_lif_neurons:
        others = [f"{name or type(m).__name__} ({type(m).__name__})" for name, m in model.named_modules()
                  if neuron_ops.is_declared_neuron(m) and not isinstance(m, (IFNode, LIFNode))]
        if others:
            message = ("SpikeSim assumes IF/LIF neuronal modules. Unsupported neuron modules found: "
                       f"{', '.join(others)}.")
            if strict:
                raise ValueError(message)
            profiler._warnings.append(message)
    with profiler, torch.no_grad():
        call_model(model, inputs)
    report = profiler.get_report()
    if model.training:
        report.warnings.insert(0, training_message)
    return report
