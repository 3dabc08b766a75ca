"""NeuroMC runtime energy: the layer computations of a real forward (and backward, and optimizer step) mapped onto
NeuroMC's cores and memory hierarchy (Nature Communications 2026; the authors' code at commit 712c66f)."""

from __future__ import annotations

import warnings
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from math import prod
from typing import Any

import torch
from torch import nn
from torch.overrides import resolve_name
from torch.utils._python_dispatch import TorchDispatchMode

from sj.op_counter import neuron_ops
from sj.op_counter.base import ActiveModuleTracker, EnergyModelInfo, ModuleCounter, ModuleCounterMode, call_model
from sj.op_counter.neuromc.config import MemoryHierarchyConfig
from sj.op_counter.neuromc.extra import EXTRA_OP_COST_PJ, MAC_COST_PJ, PRIMITIVES, extra_counts, extra_memory
from sj.op_counter.neuromc.mapping import Fragment, base_memory
from sj.op_counter.spike_ops import is_spike

__all__ = ["NeuroMCEnergyProfiler", "NeuroMCRuntimeEnergyReport", "estimate_neuromc_runtime_energy"]

NEUROMC_MODEL_INFO = EnergyModelInfo(
    model_id="neuromc_712c66_runtime_v2",
    fidelity="source-aligned",
    source_urls=("https://www.nature.com/articles/s41467-026-70586-x",
                 "https://github.com/dayanhn/NeuroMC/commit/712c66f47cf76ae530a55f8bcad3858bd68788de"),
    technology_nm=32,
    precision="1-bit spikes and 16-bit values under the NeuroMC v1 constants",
    scope="runtime-mapped NeuroMC FE/BE/WE energy; BN and optimizer use source-derived formulas without independent "
          "external validation",
)
# operators that move data or only serve the ones mapped (element-wise glue, neuron internals, losses)
_IGNORED_PREFIXES = ("aten.detach", "aten.view", "aten.t.default", "aten.transpose", "aten.permute", "aten.expand",
                     "aten.slice", "aten.select", "aten.alias", "aten._unsafe_view", "aten.as_strided",
                     "aten.unsqueeze", "aten.squeeze", "aten.unbind", "aten.clone", "aten.copy_", "profiler.")
_AUXILIARY = {f"aten.{name}" for name in (
    "all.default", "_local_scalar_dense.default", "lift_fresh.default", "_to_copy.default", "empty.memory_format",
    "cat.default", "stack.default", "split.Tensor", "index.Tensor", "full_like.default", "mse_loss.default",
    "mse_loss_backward.default", "where.self", "where.ScalarOther", "where.ScalarSelf", "sqrt.default",
    "sqrt_.default", "rsqrt.default", "sigmoid.default", "sigmoid_.default", "sum.default", "sum.dim_IntList",
    "mean.dim", "logical_and.default", "logical_or.default", "logical_xor.default", "logical_not.default",
    "new_empty_strided.default", "ones_like.default", "zeros_like.default",
    *(f"{op}.{o}" for op in ("add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_") for o in ("Tensor", "Scalar")),
    "rsub.Tensor", "rsub.Scalar",
    *(f"{op}.{o}" for op in ("eq", "ne", "lt", "le", "gt", "ge") for o in ("Tensor", "Scalar")))}
_AUXILIARY |= {"sj.multistep_fwd.default", "sj.multistep_bwd.default"}  # sj neurons: mapped from the module
_MAPPED = {"aten.convolution.default", "aten.addmm.default", "aten.mm.default", "aten.bmm.default",
           "aten.native_batch_norm.default", "aten.native_batch_norm_backward.default"}
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass
class NeuroMCRuntimeEnergyReport:
    """Result of NeuroMC (pJ; memory in bits): totals (``energy_total_pj = energy_compute_pj + energy_memory_pj``;
    compute = MACs + extra processing, memory = base + extra traffic), breakdowns by stage, operation, core type,
    processing kind and memory level/direction, primitive and memory counts, and one ``mapping_summary`` entry per
    fragment."""

    energy_total_pj: float = 0.0
    energy_compute_pj: float = 0.0
    energy_memory_pj: float = 0.0
    energy_by_stage: dict[str, float] | None = field(default_factory=dict)
    energy_by_op: dict[str, float] | None = field(default_factory=dict)
    primitive_counts: dict[str, Any] | None = field(default_factory=dict)
    memory_bits_by_level: dict[str, Any] | None = field(default_factory=dict)
    warnings: list[str] | None = field(default_factory=list)
    energy_mac_pj: float = 0.0
    energy_base_memory_pj: float = 0.0
    energy_extra_memory_pj: float = 0.0
    energy_extra_compute_pj: float = 0.0
    energy_by_core_type: dict[str, float] | None = field(default_factory=dict)
    energy_by_process_key: dict[str, float] | None = field(default_factory=dict)
    energy_by_memory_level_dir: dict[str, dict[str, float]] | None = field(default_factory=dict)
    counts_by_core_type: dict[str, dict[str, int]] | None = field(default_factory=dict)
    counts_by_process_key: dict[str, dict[str, int]] | None = field(default_factory=dict)
    mapping_summary: list[dict[str, Any]] | None = field(default_factory=list)
    model_info: EnergyModelInfo | None = None
    memory_config: MemoryHierarchyConfig | None = None

    def __post_init__(self) -> None:
        for name in ("energy_by_stage", "energy_by_op", "primitive_counts", "memory_bits_by_level",
                     "energy_by_core_type", "energy_by_process_key", "energy_by_memory_level_dir",
                     "counts_by_core_type", "counts_by_process_key"):
            setattr(self, name, dict(getattr(self, name) or {}))
        self.warnings = list(self.warnings or [])
        self.mapping_summary = list(self.mapping_summary or [])


@dataclass
class _Shape:
    """What the trace keeps of a tensor."""

    shape: tuple[int, ...]
    requires_grad: bool
    is_spike: bool

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def numel(self) -> int:
        return prod(self.shape)


def _snapshot(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return _Shape(tuple(int(d) for d in value.shape), bool(value.requires_grad), is_spike(value))
    if isinstance(value, (tuple, list)):
        return type(value)(_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def _numel(x: Any) -> int:
    return x.numel() if isinstance(x, (torch.Tensor, _Shape)) else 0


def _is_spike(x: Any) -> bool:
    if isinstance(x, _Shape):
        return x.is_spike
    return isinstance(x, torch.Tensor) and x.numel() > 0 and is_spike(x)


def _layout(x: Any, module: nn.Module | None = None) -> tuple[int, int, int, tuple[int, ...]]:
    """``(T, batch, channels, spatial)`` of an activation (time first for a multi-step module)."""
    shape = tuple(int(d) for d in x.shape)
    if getattr(module, "step_mode", "s") == "m":
        if len(shape) < 3:
            raise ValueError(f"Expected multi-step tensor with shape [T, N, C, ...], got {shape}.")
        return shape[0], shape[1], shape[2], shape[3:]
    if len(shape) >= 2:
        return 1, shape[0], shape[1], shape[2:]
    return 1, shape[0] if shape else 1, _numel(x), ()


def _loop_dims(batch: int, steps: int, c: int, k: int, oy: int, ox: int, fy: int, fx: int) -> dict[str, int]:
    values = {"B": batch, "T": steps, "C": c, "K": k, "OY": oy, "OX": ox, "FY": fy, "FX": fx}
    return {key: max(int(v), 1) for key, v in values.items()}


def _macs(d: dict[str, int]) -> int:
    return prod(d.values())


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    """A 1-d spatial size or kernel as ``(n, 1)``; an empty one as ``(1, 1)``."""
    if not values:
        return 1, 1
    return (values[0], 1) if len(values) == 1 else (values[0], values[1])


def _forward_core(spike: bool) -> str:
    return "fp_soma" if spike else "ann_fe"


def _input_grad_core(spike: bool) -> str:
    return "bp_grad" if spike else "ann_be"


def _weight_grad_core(spike: bool) -> str:
    return "wg" if spike else "ann_we"


class _TraceMode(TorchDispatchMode):
    """Records the operators of a run (not those inside sj neurons, which are mapped from the module)."""

    def __init__(self, profiler: NeuroMCEnergyProfiler) -> None:
        super().__init__()
        self.profiler = profiler
        self.op_counts: dict[str, int] = {}
        self.tracker = ActiveModuleTracker()

    def __enter__(self):
        self.tracker.__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            self.tracker.__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inside_neuron = any(neuron_ops.is_declared_neuron(m) for m in self.tracker.active_modules)
        if not self.profiler._suspended and not inside_neuron:
            name = resolve_name(func)
            self.op_counts[name] = self.op_counts.get(name, 0) + 1
            self.profiler._trace(name, args, kwargs, out)
        return out


class NeuroMCEnergyProfiler(ModuleCounter):
    """Maps a run onto NeuroMC: Conv1d/Conv2d, Linear and BatchNorm layers and sj neurons (the soma) from module
    hooks, forward and backward; other matrix products from the operator trace; optimizer steps on request. Any other
    computing operator raises ``ValueError`` in :meth:`get_report` (NeuroMC does not model it).

    Use :func:`estimate_neuromc_runtime_energy`, or by hand: :meth:`bind_model` (and :meth:`bind_optimizer`), then
    ``with profiler:`` and ``with profiler.stage("forward"):`` around each phase.

    Args:
        memory_config: the memory hierarchy (default: the NeuroMC v1 preset).
    """

    def __init__(self, *, memory_config: MemoryHierarchyConfig | None = None) -> None:
        super().__init__()
        config = memory_config or MemoryHierarchyConfig()
        self.memory_config = replace(config, memory_instances=dict(config.memory_instances))
        self.memory_config.validate()
        self._stages: list[str] = []
        self._stage_options: dict[str, tuple[str, bool, bool]] = {}
        self._trace_mode = _TraceMode(self)
        self._events: list[tuple[str, str, str, Any, Any]] = []  # (op, stage, phase, args, out)
        self._fragments: list[Fragment] = []
        self._module_inputs: dict[nn.Module, list[Any]] = defaultdict(list)
        self._backward_modules: set[nn.Module] = set()
        self._conv_backward_calls = 0
        self._bound_model: nn.Module | None = None
        self._trainable_shapes: set[tuple[int, ...]] = set()
        self._active = False
        self._suspended = False
        self._optimizer: torch.optim.Optimizer | None = None
        self._module_mode: ModuleCounterMode | None = None

    # ---------------------------------------------------------------------------------------------------- binding
    def bind_model(self, model: nn.Module) -> None:
        """Bind the model (Conv3d is not supported)."""
        if self._bound_model is not None:
            if self._bound_model is model:
                return
            raise RuntimeError("NeuroMCEnergyProfiler is already bound to a different model.")
        if any(isinstance(m, nn.Conv3d) for m in model.modules()):
            raise ValueError("NeuroMC runtime does not support nn.Conv3d yet.")
        self._bound_model = model
        self._trainable_shapes = {tuple(p.shape) for p in model.parameters() if p.requires_grad}
        supported = (nn.Conv1d, nn.Conv2d, nn.Linear, *_BATCH_NORMS, neuron_ops.BaseNode)
        self.rules = {**{("forward", cls): self._forward_module for cls in supported},
                      **{("backward", cls): self._backward_module for cls in supported}}
        self._module_mode = ModuleCounterMode([self], model=model)

    def bind_optimizer(self, optimizer: torch.optim.Optimizer | None) -> None:
        """The optimizer whose steps :meth:`record_optimizer_step` maps."""
        self._optimizer = optimizer

    def __enter__(self) -> NeuroMCEnergyProfiler:
        if self._module_mode is None:
            raise RuntimeError("NeuroMCEnergyProfiler.bind_model() must be called before entering.")
        self._stages.clear()
        self._stage_options.clear()
        self._events.clear()
        self._fragments.clear()
        self._module_inputs.clear()
        self._backward_modules.clear()
        self._conv_backward_calls = 0
        self._trace_mode.op_counts.clear()
        self._module_mode.__enter__()
        try:
            self._trace_mode.__enter__()
        except BaseException:
            self._module_mode.__exit__(None, None, None)
            raise
        self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._active = False
        try:
            self._trace_mode.__exit__(*exc)
        finally:
            self._module_mode.__exit__(*exc)
            self._bound_model = None
            self._module_mode = None

    @contextmanager
    def stage(self, name: str, *, phase: str = "forward", reuse_weights: bool = False,
              batch_norm_backward: bool = True) -> Iterator[NeuroMCEnergyProfiler]:
        """Label the computations of the block as stage ``name`` of ``phase`` (``"forward"``, ``"backward"``,
        ``"optimizer"``); ``reuse_weights``: the weights stay on chip; ``batch_norm_backward=False``: BN backward
        is not charged."""
        if not self._active:
            raise RuntimeError("stage() can only be used inside active profiler context.")
        if self._stages:
            raise RuntimeError("Nested stage() is not supported in NeuroMC v2.")
        if phase not in ("forward", "backward", "optimizer"):
            raise ValueError(f"Unsupported NeuroMC phase={phase!r}.")
        options = (phase, reuse_weights, batch_norm_backward)
        if self._stage_options.setdefault(name, options) != options:
            raise ValueError(f"NeuroMC stage {name!r} was reused with different options.")
        self._stages.append(name)
        try:
            yield self
        finally:
            self._stages.pop()

    @contextmanager
    def suspend(self) -> Iterator[NeuroMCEnergyProfiler]:
        """Nothing in the block is mapped (e.g. the loss)."""
        old, self._suspended = self._suspended, True
        try:
            yield self
        finally:
            self._suspended = old

    def _stage(self) -> str:
        return self._stages[-1] if self._stages else "unlabeled"

    def _option(self, stage: str | None, index: int) -> Any:
        return self._stage_options.get(stage or self._stage(), ("forward", False, True))[index]

    def _phase(self, stage: str | None = None) -> str:
        return self._option(stage, 0)

    def _position(self, stage: str | None = None) -> tuple[int, int]:
        return 0, int(self._option(stage, 1))

    def _conv_type(self, stage: str | None = None) -> str:
        return "--" if self._option(stage, 2) else "without_bp_bn"

    def _trace(self, op_name: str, args: Any, kwargs: Any, out: Any) -> None:
        if not self._active or (self._phase() == "backward" and torch.is_grad_enabled()):
            return
        if op_name in _MAPPED:  # only these are read back
            self._events.append((op_name, self._stage(), self._phase(), _snapshot(args), _snapshot(out)))

    # ---------------------------------------------------------------------------------------------- module events
    def _forward_module(self, module: nn.Module, args: tuple, kwargs: dict, out: Any) -> int:
        if not self._active or self._suspended:
            return 0
        stage = self._stage()
        x = args[0] if args else next(v for v in kwargs.values() if isinstance(v, torch.Tensor))
        neuron = neuron_ops.is_declared_neuron(module)
        if not neuron and torch.is_grad_enabled():
            self._module_inputs[module].append(x)
        if self._phase(stage) == "backward" and torch.is_grad_enabled():
            return 0
        if isinstance(module, _CONVS):
            self._fragments.append(self._conv_forward(stage, module, x, out))
        elif isinstance(module, nn.Linear):
            self._fragments.append(self._linear_forward(stage, module, x, out))
        elif isinstance(module, _BATCH_NORMS):
            self._fragments.append(self._bn_forward(stage, module, x, out))
        elif neuron:
            self._fragments.append(self._soma_forward(stage, module, x, out))
        return 0

    def _backward_module(self, module: nn.Module, grad_input: tuple, kwargs: dict, grad_output: tuple) -> int:
        if not self._active or self._suspended:
            return 0
        stage = self._stage()
        if neuron_ops.is_declared_neuron(module):
            self._fragments.append(self._soma_backward(stage, module, grad_input, grad_output))
            return 0
        self._backward_modules.add(module)
        forward_input = self._module_inputs[module].pop()
        if isinstance(module, _CONVS):
            self._conv_backward_calls += 1
            self._fragments += self._synaptic_backward(stage, module, forward_input, grad_input, grad_output)
        elif isinstance(module, nn.Linear):
            self._fragments += self._synaptic_backward(stage, module, forward_input, grad_input, grad_output)
        elif isinstance(module, _BATCH_NORMS):
            self._fragments.append(self._bn_backward(stage, module, forward_input, grad_input, grad_output))
        return 0

    def record(self, scope: str, func: Any, value: int) -> None:
        """Fragments are kept by the profiler itself (no per-scope records)."""

    # -------------------------------------------------------------------------------------------------- fragments
    def _fragment(self, stage: str, phase: str, op_name: str, core: str, process: str, dims: dict[str, int],
                  precisions: tuple[int, int, int], numels: tuple[int, int, int], mac: bool, source: str = "module",
                  position: tuple[int, int] = (0, 0), conv_type: str = "--") -> Fragment:
        return Fragment(stage, phase, op_name, core, process, dims, *precisions, *numels, _macs(dims) if mac else 0,
                        conv_type, position[0], position[1], source)

    def _conv_forward(self, stage: str, module: nn.Module, x, out) -> Fragment:
        spike = _is_spike(x)
        steps, batch, _, _ = _layout(x, module)
        oy, ox = _pair(_layout(out, module)[3])
        fy, fx = _pair(tuple(module.kernel_size))
        dims = _loop_dims(batch, steps, module.in_channels, module.out_channels, oy, ox, fy, fx)
        return self._fragment(stage, "forward", "conv.forward", _forward_core(spike), "with_nothing", dims,
                              (1 if spike else 16, 16, 16), (_numel(x), _numel(module.weight), _numel(out)), True,
                              position=self._position(stage))

    def _linear_forward(self, stage: str, module: nn.Linear, x, out) -> Fragment:
        spike = _is_spike(x)
        steps, batch, _, _ = _layout(x, module)
        dims = _loop_dims(batch, steps, module.in_features, module.out_features, 1, 1, 1, 1)
        return self._fragment(stage, "forward", "linear.forward", _forward_core(spike), "with_nothing", dims,
                              (1 if spike else 16, 16, 16), (_numel(x), _numel(module.weight), _numel(out)), True,
                              position=self._position(stage))

    def _bn_core(self, phase: str, spike: bool) -> str:
        if spike:
            return "fp_bn" if phase == "forward" else "bp_bn"
        return "ann_bn" if phase == "forward" else "ann_bn_bp"

    def _bn_forward(self, stage: str, module: nn.Module | None, x, out) -> Fragment:
        steps, batch, c, spatial = _layout(x, module)
        dims = _loop_dims(batch, steps, c, c, max(prod(spatial), 1), 1, 1, 1)
        out0 = out[0] if isinstance(out, (tuple, list)) else out
        return self._fragment(stage, "forward", "bn.forward", self._bn_core("forward", _is_spike(x)), "with_bn",
                              dims, (16, 16, 16), (_numel(x), 2 * c, _numel(out0)), False)

    def _soma_forward(self, stage: str, module: nn.Module, x, out) -> Fragment:
        out = out[0] if isinstance(out, (tuple, list)) else out
        if isinstance(out, torch.Tensor):
            steps, batch, c, spatial = _layout(out, module)
            sites = max(prod(spatial), 1)
        else:
            steps, batch, c, sites = 1, 1, 1, 1
        dims = _loop_dims(batch, steps, c, c, sites, 1, 1, 1)
        return self._fragment(stage, "forward", "soma.forward", "fp_soma", "with_sg", dims, (16, 16, 1),
                              (_numel(x), 0, _numel(out)), False, position=self._position(stage))

    def _synaptic_backward(self, stage: str, module: nn.Module, forward_input, grad_input, grad_output
                           ) -> list[Fragment]:
        grad_out = grad_output[0] if isinstance(grad_output, (tuple, list)) else grad_output
        grad_in = grad_input[0] if isinstance(grad_input, (tuple, list)) and grad_input else None
        spike = _is_spike(forward_input)
        steps, batch, _, spatial = _layout(grad_out, module)
        if isinstance(module, nn.Linear):
            kind, dims = "linear", _loop_dims(batch, steps, module.in_features, module.out_features, 1, 1, 1, 1)
        else:
            oy, ox = _pair(spatial)
            fy, fx = _pair(tuple(module.kernel_size))
            kind = "conv"
            dims = _loop_dims(batch, steps, module.in_channels, module.out_channels, oy, ox, fy, fx)
        found = []
        if isinstance(grad_in, torch.Tensor):
            found.append(self._fragment(stage, "backward", f"{kind}.backward.grad_input", _input_grad_core(spike),
                                        "with_nothing", dims, (16, 16, 16),
                                        (_numel(grad_out), _numel(module.weight), _numel(grad_in)), True))
        if module.weight.requires_grad:
            found.append(self._fragment(stage, "backward", f"{kind}.backward.grad_weight", _weight_grad_core(spike),
                                        "with_nothing", dims, (1 if spike else 16, 16, 16),
                                        (_numel(forward_input), _numel(grad_out), _numel(module.weight)), True))
        return found

    def _bn_backward(self, stage: str, module: nn.Module | None, forward_input, grad_input, grad_output
                     ) -> Fragment:
        grad_out = grad_output[0] if isinstance(grad_output, (tuple, list)) else grad_output
        grad_in = grad_input[0] if isinstance(grad_input, (tuple, list)) and grad_input else grad_out
        steps, batch, c, spatial = _layout(grad_out, module)
        dims = _loop_dims(batch, steps, c, c, max(prod(spatial), 1), 1, 1, 1)
        return self._fragment(stage, "backward", "bn.backward", self._bn_core("backward", _is_spike(forward_input)),
                              "with_bn", dims, (16, 16, 16), (_numel(grad_out), 2 * c, _numel(grad_in)), False,
                              conv_type=self._conv_type(stage))

    def _soma_backward(self, stage: str, module: nn.Module, grad_input, grad_output) -> Fragment:
        grad_in = grad_input[0] if isinstance(grad_input, (tuple, list)) and grad_input else None
        grad_out = grad_output[0] if isinstance(grad_output, (tuple, list)) else grad_output
        tensor = grad_in if isinstance(grad_in, torch.Tensor) else grad_out
        steps, batch, c, spatial = _layout(tensor, module)
        dims = _loop_dims(batch, steps, c, c, max(prod(spatial), 1), 1, 1, 1)
        return self._fragment(stage, "backward", "soma.backward", "bp_grad", "with_sg", dims, (16, 16, 16),
                              (_numel(grad_out), 0, _numel(tensor)), False)

    def _trace_fragments(self) -> list[Fragment]:
        """Fragments of the traced products and batch norms (BN fragments are labelled ``module`` as the hooks'
        are)."""
        found: list[Fragment] = []
        forward_spikes: dict[tuple, deque[bool]] = defaultdict(deque)
        for op, stage, phase, args, out in self._events:
            position = self._position(stage)
            if op == "aten.convolution.default" and phase == "forward":
                x, w = args[:2]
                if x.ndim > 4 or out.ndim > 4:
                    raise ValueError("NeuroMC runtime does not support multi-step or 3D Conv trace fallback yet.")
                if out.ndim > 4 or w.ndim > 4:
                    raise ValueError("NeuroMC runtime does not support Conv3d fallback yet.")
                oy, ox = _pair(out.shape[2:])
                fy, fx = _pair(w.shape[2:])
                dims = _loop_dims(x.shape[0], 1, x.shape[1], out.shape[1], oy, ox, fy, fx)
                found.append(self._fragment(stage, phase, op, _forward_core(x.is_spike), "with_nothing", dims,
                                            (1 if x.is_spike else 16, 16, 16), (x.numel(), w.numel(), out.numel()),
                                            True, "trace", position))
            elif op in ("aten.addmm.default", "aten.mm.default", "aten.bmm.default"):
                found += self._gemm_fragment(op, stage, phase, args[-2], args[-1], out, position, forward_spikes)
            elif op == "aten.native_batch_norm.default" and phase == "forward":
                if args[0].ndim > 4:
                    raise ValueError("NeuroMC runtime does not support multi-step or 3D BatchNorm trace fallback yet.")
                found.append(self._bn_forward(stage, None, args[0], out))
            elif op == "aten.native_batch_norm_backward.default":
                found.append(self._bn_backward(stage, None, args[1], args, out))
        return found

    def _gemm_fragment(self, op: str, stage: str, phase: str, x: _Shape, y: _Shape, out: _Shape,
                       position: tuple[int, int], forward_spikes: dict[tuple, deque[bool]]) -> list[Fragment]:
        if phase == "forward":
            spike = x.is_spike
            forward_spikes[(op, x.shape, out.shape)].append(spike)
            batch = x.shape[0] if x.ndim == 2 else x.shape[0] * x.shape[1]
            dims = _loop_dims(batch, 1, x.shape[-1], y.shape[-1], 1, 1, 1, 1)
            return [self._fragment(stage, phase, op, _forward_core(spike), "with_nothing", dims,
                                   (1 if spike else 16, 16, 16), (x.numel(), y.numel(), out.numel()), True, "trace",
                                   position)]
        if (x.requires_grad and not y.requires_grad) or (
                x.requires_grad == y.requires_grad and out.shape in self._trainable_shapes):
            spike = x.is_spike
            if x.ndim == 2:
                batch, c = x.shape[-1], x.shape[0]
            else:
                batch, c = x.shape[0] * x.shape[-1], x.shape[1]
            dims = _loop_dims(batch, 1, c, y.shape[-1], 1, 1, 1, 1)
            return [self._fragment(stage, phase, op, _weight_grad_core(spike), "with_nothing", dims,
                                   (1 if spike else 16, 16, 16), (x.numel(), y.numel(), out.numel()), True, "trace",
                                   position)]
        spike = False
        alternative = {"aten.addmm.default": "aten.mm.default", "aten.mm.default": "aten.addmm.default"}.get(op)
        for key in ((op, out.shape, x.shape), (alternative, out.shape, x.shape)):
            if forward_spikes.get(key):
                spike = forward_spikes[key].pop()
                break
        batch = x.shape[0] if x.ndim == 2 else x.shape[0] * x.shape[1]
        dims = _loop_dims(batch, 1, x.shape[-1], y.shape[-1], 1, 1, 1, 1)
        return [self._fragment(stage, phase, op, _input_grad_core(spike), "with_nothing", dims, (16, 16, 16),
                               (x.numel(), y.numel(), out.numel()), True, "trace", position)]

    # -------------------------------------------------------------------------------------------------- optimizer
    def _optimizer_fragment(self, stage: str, op_name: str, kt: int, fyfxkc: int, momentum: bool = False,
                            weight_decay: bool = False, momentum_buffer: bool = False) -> Fragment:
        dims = {"B": 1, "T": 1, "C": 1, "K": kt, "OY": 1, "OX": 1, "FY": 1, "FX": fyfxkc}
        return Fragment(stage, "optimizer", op_name, "bp_grad_opt", "with_opt", dims, 32, 32, 32, kt, fyfxkc,
                        kt + fyfxkc, 0, source="optimizer", optimizer_has_momentum=momentum,
                        optimizer_has_weight_decay=weight_decay, optimizer_has_momentum_buffer=momentum_buffer)

    def _optimizer_fragments(self, stage: str) -> list[Fragment]:
        optimizer = self._optimizer
        if optimizer is None:
            raise RuntimeError("Optimizer stage requires a bound optimizer.")
        with_grad = [(group, p) for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
            kt = sum(p.numel() for _, p in with_grad if p.ndim <= 1)
            fyfxkc = sum(p.numel() for _, p in with_grad if p.ndim > 1)
            return [self._optimizer_fragment(stage, type(optimizer).__name__.lower(), kt, fyfxkc)]
        if not isinstance(optimizer, torch.optim.SGD):
            raise ValueError("NeuroMC runtime optimizer modeling only supports Adam/AdamW and common SGD (nesterov="
                             f"False, dampening=0, maximize=False); got {type(optimizer).__name__}.")
        buckets: dict[tuple[bool, bool, bool, bool], int] = defaultdict(int)
        for group in optimizer.param_groups:
            if group.get("nesterov", False):
                raise ValueError("NeuroMC runtime SGD modeling currently supports only nesterov=False.")
            if float(group.get("dampening", 0.0)) != 0.0:
                raise ValueError("NeuroMC runtime SGD modeling currently supports only dampening=0.")
            if group.get("maximize", False):
                raise ValueError("NeuroMC runtime SGD modeling currently supports only maximize=False.")
        for group, p in with_grad:
            momentum = float(group.get("momentum", 0.0)) > 0.0
            key = (momentum, float(group.get("weight_decay", 0.0)) > 0.0,
                   momentum and "momentum_buffer" in optimizer.state[p], p.ndim <= 1)
            buckets[key] += p.numel()
        return [self._optimizer_fragment(stage, "sgd", count if vector else 0, 0 if vector else count, momentum,
                                         decay, buffer)
                for (momentum, decay, buffer, vector), count in buckets.items() if count > 0]

    def record_optimizer_step(self, stage: str = "optimizer") -> None:
        """Map one step of the bound optimizer (call it where the step runs, inside the profiler)."""
        self._fragments += self._optimizer_fragments(stage)

    # ------------------------------------------------------------------------------------------------------ report
    def _unsupported_ops(self) -> list[str]:
        found = []
        for name, calls in self._trace_mode.op_counts.items():
            if name.startswith(_IGNORED_PREFIXES) or name in _AUXILIARY or name in _MAPPED:
                continue
            if name == "aten.convolution_backward.default" and calls <= self._conv_backward_calls:
                continue
            found.append(f"{name} (calls={calls})")
        return sorted(found)

    def get_report(self) -> NeuroMCRuntimeEnergyReport:
        """Map the fragments of the run and price them."""
        ambiguous = {type(m).__name__ for m in self._backward_modules if self._module_inputs[m]}
        if ambiguous:
            raise ValueError("NeuroMC runtime cannot match selective backward calls for repeated modules: "
                             + ", ".join(sorted(ambiguous)))
        fragments = list(self._fragments)
        traced = self._trace_fragments()
        if fragments:
            seen = {f.overlap_signature() for f in fragments if f.source == "module"}
            fragments += [f for f in traced if f.overlap_signature() not in seen]
        else:
            fragments = traced
        unsupported = self._unsupported_ops()
        if unsupported:
            raise ValueError("NeuroMC runtime does not support these aten ops: " + ", ".join(unsupported[:30]))
        if not fragments:
            raise ValueError("No NeuroMC-supported runtime fragments were recognized.")
        return _price(fragments, self.memory_config)

    def get_total(self) -> float:
        """Total energy (pJ)."""
        return self.get_report().energy_total_pj

    def get_counts(self) -> dict[str, Any]:
        """Primitive counts, memory bits and per-core/per-processing counts."""
        report = self.get_report()
        return {"primitive_counts": report.primitive_counts, "memory_bits_by_level": report.memory_bits_by_level,
                "counts_by_core_type": report.counts_by_core_type,
                "counts_by_process_key": report.counts_by_process_key}


def _nested(kind: type) -> defaultdict:
    return defaultdict(lambda: defaultdict(kind))


def _plain(nested: dict) -> dict:
    return {k: dict(v) for k, v in nested.items()}


def _price(fragments: list[Fragment], config: MemoryHierarchyConfig) -> NeuroMCRuntimeEnergyReport:
    by_stage, by_op, by_core, by_process = (defaultdict(float) for _ in range(4))
    energy_by_level, bits_by_level = _nested(float), _nested(int)
    counts_by_core, counts_by_process = _nested(int), _nested(int)
    primitives_by_stage, primitives_by_op = _nested(int), _nested(int)
    summary = []
    mac_pj = base_pj = extra_memory_pj = extra_compute_pj = 0.0
    for f in fragments:
        counts = extra_counts(f)
        base_bits, base_energy = base_memory(f, config)
        extra_bits, extra_energy = extra_memory(f, config)
        mac = f.mac_count * MAC_COST_PJ.get(f.core_type, 0.0)
        compute = sum(counts[p] * EXTRA_OP_COST_PJ[p] for p in PRIMITIVES)
        base = sum(sum(d.values()) for d in base_energy.values())
        extra = sum(sum(d.values()) for d in extra_energy.values())
        total = mac + compute + base + extra
        mac_pj, base_pj, extra_memory_pj, extra_compute_pj = (mac_pj + mac, base_pj + base, extra_memory_pj + extra,
                                                              extra_compute_pj + compute)
        by_stage[f.stage] += total
        by_op[f.op_name] += total
        by_core[f.core_type] += total
        by_process[f.process_key] += total
        for table, key in ((counts_by_core, f.core_type), (counts_by_process, f.process_key)):
            table[key]["fragments"] += 1
            table[key]["mac"] += f.mac_count
        for primitive, n in counts.items():
            primitives_by_stage[f.stage][primitive] += n
            primitives_by_op[f.op_name][primitive] += n
            counts_by_core[f.core_type][primitive] += n
            counts_by_process[f.process_key][primitive] += n
        for source, target in ((base_bits, bits_by_level), (extra_bits, bits_by_level), (base_energy, energy_by_level),
                               (extra_energy, energy_by_level)):
            for level, directions in source.items():
                for direction, value in directions.items():
                    target[level][direction] += value
        summary.append({"stage": f.stage, "phase": f.phase, "op_name": f.op_name, "core_type": f.core_type,
                        "process_key": f.process_key, "input_precision_bits": f.input_precision_bits,
                        "weight_precision_bits": f.weight_precision_bits,
                        "output_precision_bits": f.output_precision_bits, "loop_dims": dict(f.loop_dims),
                        "b_type": f.b_type, "t_type": f.t_type, "mac_count": f.mac_count, "source": f.source,
                        "optimizer_has_momentum": f.optimizer_has_momentum,
                        "optimizer_has_weight_decay": f.optimizer_has_weight_decay,
                        "optimizer_has_momentum_buffer": f.optimizer_has_momentum_buffer})
    totals = {p: int(sum(stage.get(p, 0) for stage in primitives_by_stage.values())) for p in PRIMITIVES}
    totals["mac"] = int(sum(f.mac_count for f in fragments))
    compute_pj, memory_pj = mac_pj + extra_compute_pj, base_pj + extra_memory_pj
    return NeuroMCRuntimeEnergyReport(
        energy_total_pj=compute_pj + memory_pj, energy_compute_pj=compute_pj, energy_memory_pj=memory_pj,
        energy_by_stage=dict(by_stage), energy_by_op=dict(by_op),
        primitive_counts={"totals": totals, "by_stage": _plain(primitives_by_stage), "by_op": _plain(primitives_by_op)},
        memory_bits_by_level={"preset_name": config.preset_name,
                              "totals": {lvl: int(sum(d.values())) for lvl, d in bits_by_level.items()},
                              "by_level_dir": _plain(bits_by_level)},
        warnings=[], energy_mac_pj=mac_pj, energy_base_memory_pj=base_pj, energy_extra_memory_pj=extra_memory_pj,
        energy_extra_compute_pj=extra_compute_pj, energy_by_core_type=dict(by_core),
        energy_by_process_key=dict(by_process), energy_by_memory_level_dir=_plain(energy_by_level),
        counts_by_core_type=_plain(counts_by_core), counts_by_process_key=_plain(counts_by_process),
        mapping_summary=summary, model_info=NEUROMC_MODEL_INFO,
        memory_config=replace(config, memory_instances=dict(config.memory_instances)))


def _clear_grads(model: nn.Module, optimizer: torch.optim.Optimizer | None) -> None:
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    else:
        for p in model.parameters():
            p.grad = None


def estimate_neuromc_runtime_energy(model: nn.Module, inputs: Any, *, target: torch.Tensor | None = None,
                                    loss_fn: Callable | None = None, optimizer: torch.optim.Optimizer | None = None,
                                    memory_config: MemoryHierarchyConfig | None = None
                                    ) -> NeuroMCRuntimeEnergyReport:
    """Map one training (or inference) iteration of ``model`` onto NeuroMC and price it.

    Runs the forward on ``inputs`` (stage ``"forward"``); with ``loss_fn`` and ``target``, the loss (not mapped) and
    its backward (stage ``"backward"``); with ``optimizer`` too, one optimizer step's update (stage ``"optimizer"``;
    the step itself is not taken: parameters are unchanged, gradients are cleared). Existing gradients are cleared
    first.
    """
    profiler = NeuroMCEnergyProfiler(memory_config=memory_config)
    profiler.bind_model(model)
    profiler.bind_optimizer(optimizer)
    _clear_grads(model, optimizer)
    if loss_fn is not None and target is None:
        raise ValueError("target is required when loss_fn is provided")
    if loss_fn is None and optimizer is not None:
        raise ValueError("NeuroMC runtime optimizer modeling requires loss_fn and target; optimizer.step() without "
                         "backward is unsupported.")
    with profiler:
        with profiler.stage("forward", phase="forward"):
            output = call_model(model, inputs)
        if loss_fn is not None:
            with profiler.suspend():
                loss = loss_fn(output, target)
            with profiler.stage("backward", phase="backward"), warnings.catch_warnings():
                # the first layer's input needs no gradient: torch warns that its backward hook sees output gradients
                warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
                loss.backward()
            if optimizer is not None:
                with profiler.stage("optimizer", phase="optimizer"):
                    profiler.record_optimizer_step("optimizer")
                    with profiler.suspend():
                        optimizer.zero_grad(set_to_none=True)
    return profiler.get_report()
