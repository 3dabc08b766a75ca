"""sj module → NIR graph (:func:`export`).

The network is walked structurally: ``nn.Sequential`` and sj's time containers chain their children, a
``LinearRecurrentContainer`` becomes a cycle (``W·[x, y] + b`` = ``Affine(W_x, b)·x + Linear(W_y)·y``, summed at
the sub-module's first node), any other module with children is traced with ``torch.fx`` one level deep (its
``forward`` may call children and add their outputs, which NIR sums where edges meet), and every leaf module is
converted by :data:`EXPORTERS`. Shapes come from one
single-step run of a copy of the network on the example input (batch and time dimensions stripped).
"""

from __future__ import annotations

import copy
import math
import operator
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import torch
from torch import fx, nn

import nir
from sj import layer
from sj.base import StepModule
from sj.functional import reset_net, set_step_mode
from sj.neuron import CUBALIFNode, IFNode, LIFNode, NonSpikingLIFNode, ParametricLIFNode
from sj.neuron.node import BaseNode
from sj.nir import modules
from sj.nir.conventions import FORMAT
from sj.nir.errors import NIRError, NIRGraphError, NIRParameterError, NIRSemanticsWarning, NIRUnsupportedError
from sj.nir.network import NIRNet
from sj.nir.neurons import NIRCubaLIFNode, NIRIFNode, NIRLIFNode, _NIRNeuron


@dataclass(frozen=True)
class Site:
    """Where a leaf sits: its qualified name, one-step input/output shapes without the batch, and dt."""

    name: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    dt: float

    def error(self, module: nn.Module, problem: str, kind: type[NIRError] = NIRUnsupportedError) -> NIRError:
        return kind(f"module {self.name!r} ({type(module).__name__}): {problem}")


def _np(t: torch.Tensor | float, shape: tuple[int, ...] | None = None, scale: float = 1.0) -> np.ndarray:
    """A parameter as a float64 array (exact for float32 values), broadcast to ``shape``, times ``scale``."""
    arr = t.detach().cpu().to(torch.float64).numpy() if isinstance(t, torch.Tensor) else np.float64(t)
    arr = np.asarray(arr) * scale
    if shape is not None:
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            raise NIRParameterError(f"a parameter of shape {np.shape(arr)} does not broadcast to the neuron shape "
                                    f"{list(shape)}") from None
    return np.ascontiguousarray(arr, dtype=np.float64)


def _weights(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


# ------------------------------------------------------------------------------------------------ neurons
def _reset_meta(m: BaseNode, **extra: str) -> dict[str, str]:
    return {"reset_mode": "subtract" if m.soft_reset else "value", **extra}


def _neuron_meta(m: BaseNode) -> dict[str, str]:
    strict = isinstance(m, _NIRNeuron) and m.strict_threshold
    meta = _reset_meta(m, threshold=">" if strict else ">=", initial_v="v_reset")
    if isinstance(m, NIRCubaLIFNode):
        meta["cuba_order"] = m.order
    if isinstance(m, _NIRNeuron) and m.v_init is not None:
        v0 = m.v_init
        if hasattr(m, "v_leak") and torch.equal(v0.expand_as(m.v_leak) if v0.dim() else v0, m.v_leak.expand_as(v0)):
            meta["initial_v"] = "v_leak"
        elif bool((v0 == 0).all()):
            meta["initial_v"] = "zero"
        else:
            raise NIRUnsupportedError(f"{type(m).__name__}: v_init is neither 0 nor v_leak, which NIR cannot record")
    if not m.spec().soft_reset and not getattr(m, "spiking", True):
        meta.pop("reset_mode")
    return meta


def _fire(m: BaseNode, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    return {"v_threshold": _np(m.v_threshold, shape),
            "v_reset": _np(0.0 if m.soft_reset else m.v_reset, shape)}


def _export_if(m: BaseNode, s: Site) -> nir.NIRNode:
    gain = m.r if isinstance(m, NIRIFNode) else 1.0  # per step; NIR's dv/dt = R·I gives R = gain/dt (if_gain r*dt)
    return nir.IF(r=_np(gain, s.out_shape, scale=1.0 / s.dt), **_fire(m, s.out_shape), metadata=_neuron_meta(m))


def _tau_steps(m: BaseNode) -> torch.Tensor | float:
    """τ in steps; a ParametricLIFNode's 1/σ(w) is computed in float64 from its w."""
    return 1.0 / torch.sigmoid(m.w.detach().double()) if isinstance(m, ParametricLIFNode) else m.tau


def _export_lif(m: BaseNode, s: Site) -> nir.NIRNode:
    shape = s.out_shape
    tau = _np(_tau_steps(m), shape)
    if isinstance(m, NIRLIFNode):
        r, v_leak = _np(m.r, shape), _np(m.v_leak, shape)
    else:
        r = np.ones(shape) if m.decay_input else tau
        v_leak = _np(0.0 if m.soft_reset else m.v_reset, shape)
    fields = {"tau": tau * s.dt, "r": r, "v_leak": v_leak}
    if isinstance(m, NonSpikingLIFNode) or not getattr(m, "spiking", True):
        return nir.LI(**fields, metadata=_neuron_meta(m))
    return nir.LIF(**fields, **_fire(m, shape), metadata=_neuron_meta(m))


def _export_cuba(m: BaseNode, s: Site) -> nir.NIRNode:
    shape = s.out_shape
    if isinstance(m, NIRCubaLIFNode):
        syn, mem = _np(m.tau_syn, shape), _np(m.tau_mem, shape)
        fields = {"r": _np(m.r, shape), "v_leak": _np(m.v_leak, shape), "w_in": _np(m.w_in, shape)}
    else:
        for p in ("c_decay", "v_decay"):  # the fractions kept per step: τ/dt = 1/(1 − decay)
            if bool((getattr(m, p) == 1).any()):
                raise s.error(m, f"{p} = 1 means an infinite time constant, which NIR cannot hold",
                              NIRParameterError)
        syn, mem = 1.0 / (1.0 - _np(m.c_decay, shape)), 1.0 / (1.0 - _np(m.v_decay, shape))
        fields = {"r": mem, "v_leak": np.zeros(shape), "w_in": syn}
    fields.update(tau_syn=syn * s.dt, tau_mem=mem * s.dt)
    if not getattr(m, "spiking", True):
        return nir.CubaLI(**fields, metadata=_neuron_meta(m))
    return nir.CubaLIF(**fields, **_fire(m, shape), metadata=_neuron_meta(m))


# ------------------------------------------------------------------------------------------------ other leaves
def _export_linear(m: nn.Linear, s: Site) -> nir.NIRNode:
    if len(s.in_shape) != 1:
        raise s.error(m, f"NIR Affine/Linear takes one-dimensional samples, this one sees {list(s.in_shape)}")
    if m.bias is None:
        return nir.Linear(weight=_weights(m.weight))
    return nir.Affine(weight=_weights(m.weight), bias=_weights(m.bias))


def _export_conv(m: nn.Conv1d | nn.Conv2d, s: Site) -> nir.NIRNode:
    if m.padding_mode != "zeros":
        raise s.error(m, f"padding_mode={m.padding_mode!r}: NIR convolutions pad with zeros only")
    bias = _weights(m.bias) if m.bias is not None else np.zeros(m.out_channels, dtype=np.float32)
    pad = m.padding if isinstance(m.padding, str) else tuple(m.padding)
    if isinstance(m, nn.Conv1d):
        return nir.Conv1d(input_shape=int(s.in_shape[1]), weight=_weights(m.weight), stride=int(m.stride[0]),
                          padding=pad if isinstance(pad, str) else int(pad[0]), dilation=int(m.dilation[0]),
                          groups=m.groups, bias=bias)
    return nir.Conv2d(input_shape=tuple(s.in_shape[1:]), weight=_weights(m.weight), stride=tuple(m.stride),
                      padding=pad, dilation=tuple(m.dilation), groups=m.groups, bias=bias)


def _pair(v) -> np.ndarray:
    return np.array(v if isinstance(v, (tuple, list)) else (v, v), dtype=np.int64)


def _export_avgpool(m: nn.AvgPool2d, s: Site) -> nir.NIRNode:
    if m.ceil_mode or m.divisor_override is not None or (not m.count_include_pad and np.any(_pair(m.padding))):
        raise s.error(m, "NIR AvgPool2d is the plain window mean: ceil_mode, divisor_override and "
                         "count_include_pad=False with padding cannot be expressed")
    stride = m.stride if m.stride is not None else m.kernel_size
    return nir.AvgPool2d(kernel_size=_pair(m.kernel_size), stride=_pair(stride), padding=_pair(m.padding))


def _export_sumpool(m: modules.SumPool2d, s: Site) -> nir.NIRNode:
    return nir.SumPool2d(kernel_size=_pair(m.kernel_size), stride=_pair(m.stride), padding=_pair(m.padding))


def _export_flatten(m: nn.Flatten, s: Site) -> nir.NIRNode:
    rank = len(s.in_shape) + 1
    start, end = (d if d >= 0 else rank + d for d in (m.start_dim, m.end_dim))
    if start < 1:
        raise s.error(m, "flattening into the batch dimension (start_dim=0) has no NIR equivalent")
    return nir.Flatten(input_type={"input": np.array(s.in_shape)}, start_dim=start - 1,
                       end_dim=end - 1 if end != rank - 1 else -1)


def _export_delay(m: nn.Module, s: Site) -> nir.NIRNode:
    steps = m.delay_steps.cpu().numpy() if isinstance(m.delay_steps, torch.Tensor) else m.delay_steps
    return nir.Delay(delay=_np(torch.as_tensor(steps, dtype=torch.float64), s.in_shape, scale=s.dt))


Exporter = Callable[[nn.Module, Site], nir.NIRNode]
# Checked in order (subclasses first). Extend by appending (type, function).
EXPORTERS: list[tuple[type, Exporter]] = [
    (NonSpikingLIFNode, _export_lif),
    (LIFNode, _export_lif),
    (NIRLIFNode, _export_lif),
    (ParametricLIFNode, _export_lif),  # a LIF with τ = 1/σ(w): loads as LIFNode (not learnable), as in SJ 2.0
    (IFNode, _export_if),
    (NIRIFNode, _export_if),
    (CUBALIFNode, _export_cuba),
    (NIRCubaLIFNode, _export_cuba),
    (nn.Linear, _export_linear),
    (nn.Conv1d, _export_conv),
    (nn.Conv2d, _export_conv),
    (nn.AvgPool2d, _export_avgpool),
    (modules.SumPool2d, _export_sumpool),
    (nn.Flatten, _export_flatten),
    (modules.Scale, lambda m, s: nir.Scale(scale=_np(m.scale, s.in_shape))),
    (modules.Threshold, lambda m, s: nir.Threshold(threshold=_np(m.threshold, s.in_shape),
                                                   metadata={"threshold": ">" if m.strict else ">="})),
    (layer.Delay, _export_delay),
    (modules.ElementDelay, _export_delay),
]
PASS_THROUGH = (nn.Identity, nn.Dropout, layer.Dropout)
_EXACT_TYPES = {LIFNode, NonSpikingLIFNode}  # subclasses of LIFNode other than these are different neurons


def _exporter(m: nn.Module) -> Exporter | None:
    if isinstance(m, LIFNode) and type(m) not in _EXACT_TYPES:
        return None  # e.g. LIAFNode: LIF dynamics but a different output
    for cls, fn in EXPORTERS:
        if isinstance(m, cls):
            return fn
    return None


# ------------------------------------------------------------------------------------------------ graph building
class _Builder:
    def __init__(self, shapes: dict[nn.Module, tuple[tuple[int, ...], tuple[int, ...]]], dt: float) -> None:
        self.shapes, self.dt = shapes, dt
        self.nodes: dict[str, nir.NIRNode] = {}
        self.edges: list[tuple[str, str]] = []

    def _connect(self, preds: list[str], name: str) -> None:
        self.edges += [(p, name) for p in preds]

    def walk(self, m: nn.Module, name: str, preds: list[str]) -> list[str]:
        if isinstance(m, PASS_THROUGH):
            return preds
        if isinstance(m, layer.LinearRecurrentContainer):
            return self._recurrent(m, name, preds)
        if isinstance(m, NIRNet):
            return self._graph(m, name, preds)
        if isinstance(m, nn.Sequential):
            for child_name, child in m.named_children():
                preds = self.walk(child, f"{name}.{child_name}" if name else child_name, preds)
            return preds
        fn = _exporter(m)
        if fn is None and next(m.children(), None) is not None and not isinstance(m, BaseNode):
            return self._traced(m, name, preds)
        if fn is None:
            supported = sorted({c.__name__ for c, _ in EXPORTERS} | {"Sequential", "LinearRecurrentContainer"})
            raise NIRUnsupportedError(f"module {name!r} ({type(m).__name__}) has no NIR equivalent (exportable: "
                           f"{', '.join(supported)})")
        if m not in self.shapes:
            raise NIRGraphError(f"module {name!r} ({type(m).__name__}) did not run on the example input, so its shape "
                           "is unknown (is it used in forward?)")
        in_shape, out_shape = self.shapes[m]
        self._add(name, fn(m, Site(name, in_shape, out_shape, self.dt)), m)
        self._connect(preds, name)
        return [name]

    def _traced(self, m: nn.Module, name: str, preds: list[str]) -> list[str]:
        """A module with its own ``forward``: traced one level deep (children are leaves, walked in call order).
        Its graph may call children on one input and add their outputs; NIR sums the edges entering a node."""
        class OneLevel(fx.Tracer):
            def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
                return True

        where = f"module {name!r} ({type(m).__name__})"
        try:
            graph = OneLevel().trace(m)
        except Exception as exc:
            raise NIRUnsupportedError(f"{where}: its forward could not be traced by torch.fx to find how it calls "
                                      f"its children ({type(exc).__name__}: {exc})") from exc
        outs: dict[fx.Node, list[str]] = {}
        inputs = [n for n in graph.nodes if n.op == "placeholder"]
        if len(inputs) != 1:
            raise NIRUnsupportedError(f"{where}: forward takes {len(inputs)} inputs; a NIR graph node takes one")
        for node in graph.nodes:
            tensors = [a for a in node.args if isinstance(a, fx.Node)]
            if node.op == "placeholder":
                outs[node] = preds
            elif node.op == "call_module" and len(node.args) == 1 and tensors and not node.kwargs:
                outs[node] = self.walk(m.get_submodule(node.target), f"{name}.{node.target}" if name else node.target,
                                       outs[tensors[0]])
            elif node.op == "call_function" and node.target in (operator.add, torch.add) and len(tensors) == 2 \
                    and len(node.args) == 2 and not node.kwargs:
                outs[node] = outs[tensors[0]] + outs[tensors[1]]
            elif node.op == "output":
                if not isinstance(node.args[0], fx.Node):
                    raise NIRUnsupportedError(f"{where}: forward returns {type(node.args[0]).__name__}, not one tensor")
                return outs[node.args[0]]
            else:
                raise NIRUnsupportedError(f"{where}: its forward does {node.op} {node.target} "
                                          f"({node.format_node()}); NIR can express calls of children on one tensor "
                                          "and sums of their outputs")
        raise NIRGraphError(f"{where}: its traced forward has no output")

    def _add(self, name: str, node: nir.NIRNode, m: nn.Module) -> None:
        """Add a node; refuse a name taken twice (it would merge two nodes) and non-finite parameters (NaN/inf,
        which sj's own reader refuses: what is written must load)."""
        if name in self.nodes:
            raise NIRGraphError(f"module {name!r} ({type(m).__name__}): node name {name!r} is already taken by "
                                f"another {type(self.nodes[name]).__name__} node")
        for field, value in vars(node).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise NIRParameterError(f"module {name!r} ({type(m).__name__}): {field} has non-finite values "
                                        "(NaN or ±inf)")
        self.nodes[name] = node

    def _graph(self, m: NIRNet, name: str, preds: list[str]) -> list[str]:
        """A loaded graph: its nodes (prefixed by ``name``) and edges; its Input/Output nodes dissolve."""
        if len(m.inputs) != 1 or len(m.outputs) != 1:
            raise NIRUnsupportedError(f"module {name!r} (NIRNet): only graphs with one input and one output can be "
                                      f"nested, this one has inputs {m.inputs} and outputs {m.outputs}")
        prefix = f"{name}." if name else ""
        for n in m.node_names:
            if n not in m.inputs and n not in m.outputs:
                if prefix + n in ("input", "output"):
                    raise NIRGraphError(f"node name {n!r} is reserved for the exported graph's own Input/Output node")
                self.walk(m.module_for(n), prefix + n, [])

        def src(a: str) -> list[str]:
            return preds if a in m.inputs else [prefix + a]

        outs: list[str] = []
        for a, b in m.edges:
            if b in m.outputs:
                outs += src(a)
            else:
                self._connect(src(a), prefix + b)
        return outs

    def _recurrent(self, m: layer.LinearRecurrentContainer, name: str, preds: list[str]) -> list[str]:
        w, n_in = m.rc.weight, m.in_features
        x_name, y_name = f"{name}.rc_x", f"{name}.rc_y"
        self._add(x_name, nir.Affine(weight=_weights(w[:, :n_in]), bias=_weights(m.rc.bias)) if m.rc.bias is not None
                  else nir.Linear(weight=_weights(w[:, :n_in])), m)
        self._add(y_name, nir.Linear(weight=_weights(w[:, n_in:])), m)
        self._connect(preds, x_name)
        outs = self.walk(m.sub_module, f"{name}.sub_module", [x_name, y_name])
        self._connect(outs, y_name)
        return outs


def _record_shapes(net: nn.Module, example: torch.Tensor) -> dict[nn.Module, tuple[tuple[int, ...], ...]]:
    """Run a single-step copy of ``net`` once and record every module's one-step input/output shape (no batch)."""
    shapes: dict[nn.Module, tuple[tuple[int, ...], ...]] = {}

    def hook(mod, args, out):
        if mod not in shapes and args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
            shapes[mod] = (tuple(args[0].shape[1:]), tuple(out.shape[1:]))

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    try:
        with torch.no_grad():
            net(example)
    finally:
        for h in handles:
            h.remove()
    return shapes


def _summary(nodes: dict[str, nir.NIRNode], key: str, default: str) -> str:
    values = {n.metadata[key] for n in nodes.values() if key in (n.metadata or {})}
    return values.pop() if len(values) == 1 else default if not values else "per-node"


def export(net: nn.Module, example_input: torch.Tensor, dt: float = 1e-4,
           path: str | os.PathLike | None = None) -> nir.NIRGraph:
    """Export an sj network to a NIR graph whose ``metadata`` records its semantics.

    Args:
        net: the network: ``nn.Sequential`` of sj/torch layers and neurons, sj containers,
            ``LinearRecurrentContainer``. It is not modified: a copy runs once to find the shapes.
        example_input: what ``net`` takes in its current step modes: one step ``[N, *]``, or ``[T, N, *]`` when any
            module is in ``'m'`` mode. Only its shape matters.
        dt: seconds per step (default 1e-4, what snnTorch and SpikingJelly readers assume). sj's τ (in steps) is
            written as ``τ·dt`` seconds and recorded with dt in ``graph.metadata``.
        path: also write the graph to this file (HDF5, ``nir.write``).

    Returns:
        The ``nir.NIRGraph``: nodes named by module path, batch/time dimensions stripped, scalar parameters broadcast
        to per-neuron arrays, tensors on the CPU, edges in module order (same graph, same bytes).

    Warns :class:`~sj.nir.errors.NIRSemanticsWarning` when a neuron uses subtractive (soft) reset: readers that
    ignore ``graph.metadata['reset_mode']`` will run it as a hard reset.
    """
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise NIRParameterError(f"dt must be a positive number of seconds, got {dt!r}")
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(f"example_input must be a torch.Tensor, got {type(example_input).__name__}")
    multi = any(isinstance(m, StepModule) and m.step_mode == "m" for m in net.modules())
    step = example_input[0] if multi else example_input
    if step.dim() < 1:
        raise NIRParameterError(f"example_input of shape {tuple(example_input.shape)} has no batch dimension")
    twin = copy.deepcopy(net).cpu().eval()
    reset_net(twin)
    set_step_mode(twin, "s")
    shapes = _record_shapes(twin, step.detach().cpu()[:1])
    # map the twin's modules back to the original structure by walking the twin itself
    b = _Builder(shapes, float(dt))
    outs = b.walk(twin, "", ["input"])
    if not b.nodes:
        raise NIRUnsupportedError("the network has no exportable module")
    in_shape = tuple(step.shape[1:])
    out_shape = shapes[twin][1] if twin in shapes else None
    nodes = {"input": nir.Input(input_type={"input": np.array(in_shape)}), **b.nodes}
    nodes["output"] = nir.Output(output_type={"output": np.array(out_shape if out_shape is not None else ())})
    edges = b.edges + [(o, "output") for o in outs]
    neurons = {k: n for k, n in nodes.items() if isinstance(n, (nir.IF, nir.LIF, nir.LI, nir.CubaLIF, nir.CubaLI))}
    metadata = {"format": FORMAT, "producer": f"sj-nir {_version()}", "dt": float(dt), "integration": "forward-euler",
                "reset_mode": _summary(neurons, "reset_mode", "value"), "reset_timing": "same-step",
                "threshold": _summary(neurons, "threshold", ">="), "initial_v": _summary(neurons, "initial_v",
                                                                                          "v_reset"),
                "cuba_order": _summary(neurons, "cuba_order", "current-first"), "tau_field": "tau", "if_gain": "r*dt"}
    soft = sorted(k for k, n in neurons.items() if n.metadata.get("reset_mode") == "subtract")
    if soft:
        warnings.warn(f"sj.nir.export: neurons {soft} use subtractive (soft) reset. NIR nodes have no reset mode: it "
                      "is recorded in graph.metadata['reset_mode'] and node.metadata['reset_mode'], and readers that "
                      "ignore the metadata will run these neurons with a hard reset to v_reset = 0.",
                      NIRSemanticsWarning, stacklevel=2)
    try:
        graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
    except (ValueError, AssertionError) as exc:
        raise NIRGraphError(f"the exported graph is inconsistent: {exc}") from exc
    if path is not None:
        nir.write(path, graph)
    return graph


def _version() -> str:
    try:
        return version("sj-nir")
    except PackageNotFoundError:
        return "unknown"
