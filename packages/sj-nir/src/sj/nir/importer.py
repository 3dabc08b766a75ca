"""NIR graph → sj module (:func:`load`).

Each NIR node maps to one sj module (:data:`NODE_LOADERS`); neurons are discretised with the resolved
:class:`~sj.nir.conventions.Conventions`. Parameters that are equal over all neurons become numbers, heterogeneous
ones stay per-neuron tensors. When a neuron's parameters and conventions fit an sj built-in (``IFNode``, ``LIFNode``,
``NonSpikingLIFNode``, ``CUBALIFNode``) that class is used, so an sj → NIR → sj round trip runs the very same
arithmetic; otherwise the NIR declarations of :mod:`sj.nir.neurons` are used.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import nir
from sj import layer
from sj.functional import set_step_mode
from sj.neuron import CUBALIFNode, IFNode, LIFNode, NonSpikingLIFNode
from sj.nir import modules
from sj.nir.conventions import NODE_KEYS, Conventions, _plain, guess_profile, is_sj_graph, resolve
from sj.nir.errors import NIRError, NIRSemanticsWarning, node_error
from sj.nir.network import NIRNet
from sj.nir.neurons import NIRCubaLIFNode, NIRIFNode, NIRLIFNode

Param = float | torch.Tensor


def read(path: str | os.PathLike) -> nir.NIRGraph:
    """Read a NIR file, turning nir's assertion and key errors into a :class:`NIRError` naming the file."""
    try:
        return nir.read(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # nir raises AssertionError/KeyError/ValueError/OSError for malformed files
        raise NIRError(f"{os.fspath(path)}: not a readable NIR file ({type(exc).__name__}: {exc})") from exc


def flatten_graph(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """Inline nested ``NIRGraph`` nodes (``name.sub``); their Input/Output nodes stay as identity nodes."""
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten_graph(node, full + ".")
            ins = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise NIRError(f"subgraph {full!r} needs exactly one Input and one Output node, has {ins} and {outs}")
            for k, v in sub_nodes.items():
                nodes[k] = v
            edges += sub_edges
            entry[full], exit_[full] = f"{full}.{ins[0]}", f"{full}.{outs[0]}"
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        for end in (a, b):
            if end not in nodes and end not in entry:
                raise NIRError(f"edge ({a!r}, {b!r}) names node {end!r}, which is not in the graph")
        edges.append((exit_.get(a, a), entry.get(b, b)))
    return nodes, edges


# ------------------------------------------------------------------------------------------------ parameters
def _array(name: str, node: nir.NIRNode, field: str) -> np.ndarray:
    value = getattr(node, field, None)
    if value is None:
        raise node_error(name, node, f"field {field!r} is missing")
    arr = np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise node_error(name, node, f"{field} has non-finite values")
    return arr


def _param(arr: np.ndarray | float, shape: tuple[int, ...] | None = None) -> Param:
    """A number when all elements are equal (so sj keeps a scalar), else a per-neuron tensor."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == 0:
        raise NIRError("empty parameter array")
    flat = arr.reshape(-1)
    if np.all(flat == flat[0]):
        return float(flat[0])
    if shape is not None and arr.shape != shape:
        arr = np.broadcast_to(arr, shape)
    return torch.from_numpy(np.ascontiguousarray(arr)).to(torch.get_default_dtype())


def _shape(name: str, node: nir.NIRNode, fields: tuple[str, ...]) -> tuple[int, ...]:
    shapes = {f: np.asarray(getattr(node, f)).shape for f in fields}
    if len(set(shapes.values())) != 1:
        raise node_error(name, node, f"parameter shapes differ: {shapes}")
    return next(iter(shapes.values()))


def _steps(name: str, node: nir.NIRNode, field: str, conv: Conventions) -> tuple[np.ndarray, np.ndarray]:
    """(τ in seconds as the producer meant it, effective τ in steps for the forward-Euler form)."""
    raw = _array(name, node, field)
    tau = raw / conv.dt if conv.tau_field == "dt*tau" else raw
    if np.any(tau <= 0):
        raise node_error(name, node, f"{field} must be > 0, got min {tau.min():g}")
    if conv.integration == "exp-decay":
        return tau, 1.0 / -np.expm1(-conv.dt / tau)
    if np.any(tau < conv.dt):
        hint = (" Norse ≤ 1.1 writes dt·τ into this field (norse#411): if the graph comes from Norse, load it with "
                "profile='norse'." if conv.tau_field == "tau" else "")
        raise node_error(name, node, f"{field} = {tau.min():g} s is shorter than dt = {conv.dt:g} s (τ/dt = "
                                     f"{tau.min() / conv.dt:g} < 1): forward Euler overshoots, so these are not "
                                     f"plausible parameters for this dt.{hint}")
    return tau, tau / conv.dt


def _same(a: np.ndarray, b: np.ndarray | float) -> bool:
    """Equal in float32, the dtype sj builds parameters in."""
    return bool(np.all(np.asarray(a, np.float32) == np.asarray(b, np.float32)))


@dataclasses.dataclass
class _Neuron:
    """The pieces every neuron loader needs, resolved once per node."""

    name: str
    node: nir.NIRNode
    conv: Conventions
    shape: tuple[int, ...]

    @property
    def soft(self) -> bool:
        return self.conv.reset_mode == "subtract"

    @property
    def strict(self) -> bool:
        return self.conv.threshold == ">"

    def v_reset(self) -> Param | None:
        return None if self.soft else _param(_array(self.name, self.node, "v_reset"), self.shape)

    def threshold(self) -> Param:
        return _param(_array(self.name, self.node, "v_threshold"), self.shape)

    def v_init(self, v_leak: np.ndarray | None) -> Param | None:
        """``None`` when the neuron starts at sj's default (v_reset, 0 for soft reset)."""
        default = 0.0 if self.soft else _array(self.name, self.node, "v_reset") if hasattr(self.node, "v_reset") \
            else 0.0
        want = {"v_reset": default, "zero": 0.0, "v_leak": default if v_leak is None else v_leak}[self.conv.initial_v]
        return None if np.all(np.asarray(want) == np.asarray(default)) else _param(want, self.shape)

    def native(self) -> bool:
        """Whether sj's built-in classes reproduce these conventions (same comparison and Euler form)."""
        return not self.strict and self.conv.integration == "forward-euler"


def _load_if(n: _Neuron) -> nn.Module:
    r = _array(n.name, n.node, "r")
    if n.native() and _same(r, 1.0) and n.v_init(None) is None:
        return IFNode(v_threshold=n.threshold(), v_reset=n.v_reset())
    return NIRIFNode(_param(r, n.shape), n.threshold(), n.v_reset(), strict_threshold=n.strict,
                     v_init=n.v_init(None))


def _load_lif(n: _Neuron, spiking: bool) -> nn.Module:
    _, steps = _steps(n.name, n.node, "tau", n.conv)
    r, v_leak = _array(n.name, n.node, "r"), _array(n.name, n.node, "v_leak")
    if n.conv.integration == "exp-decay":
        r = r * steps  # (r·steps)·x/steps = r·x: Sinabs adds the input undecayed
    v_init = n.v_init(v_leak)
    if spiking:
        leak_ok = _same(v_leak, 0.0 if n.soft else _array(n.name, n.node, "v_reset"))
        if n.native() and leak_ok and v_init is None:
            for decay_input, gain in ((True, 1.0), (False, steps)):
                if _same(r, gain):
                    return LIFNode(_param(steps, n.shape), decay_input, n.threshold(), n.v_reset())
        return NIRLIFNode(_param(steps, n.shape), _param(r, n.shape), _param(v_leak, n.shape), n.threshold(),
                          n.v_reset(), strict_threshold=n.strict, v_init=v_init)
    leak = _param(v_leak, n.shape)
    if n.conv.integration == "forward-euler" and _same(r, 1.0) and n.conv.initial_v in ("v_reset", "v_leak"):
        return NonSpikingLIFNode(_param(steps, n.shape), True, v_reset=leak)
    return NIRLIFNode(_param(steps, n.shape), _param(r, n.shape), leak, v_reset=leak, spiking=False,
                      v_init=_param(v_leak if n.conv.initial_v != "zero" else 0.0, n.shape))


def _load_cuba(n: _Neuron, spiking: bool) -> nn.Module:
    _, syn = _steps(n.name, n.node, "tau_syn", n.conv)
    _, mem = _steps(n.name, n.node, "tau_mem", n.conv)
    r, v_leak, w_in = (_array(n.name, n.node, f) for f in ("r", "v_leak", "w_in"))
    if n.conv.integration == "exp-decay":
        r, w_in = r * mem, w_in * syn
    v_init = n.v_init(v_leak)
    p = {f: _param(v, n.shape) for f, v in (("tau_syn", syn), ("tau_mem", mem), ("r", r), ("v_leak", v_leak),
                                            ("w_in", w_in))}
    if spiking:
        fits = (n.native() and n.conv.cuba_order == "current-first" and _same(r, mem) and _same(w_in, syn)
                and _same(v_leak, 0.0) and v_init is None)
        if fits:
            return CUBALIFNode(_param(1.0 / syn, n.shape), _param(1.0 / mem, n.shape), n.threshold(), n.v_reset())
        return NIRCubaLIFNode(**p, v_threshold=n.threshold(), v_reset=n.v_reset(), order=n.conv.cuba_order,
                              strict_threshold=n.strict, v_init=v_init)
    return NIRCubaLIFNode(**p, v_reset=p["v_leak"], order=n.conv.cuba_order, spiking=False,
                          v_init=_param(v_leak if n.conv.initial_v != "zero" else 0.0, n.shape))


# ------------------------------------------------------------------------------------------------ synapses, pooling
def _ints(value: Any, n: int) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64)
    return tuple(int(v) for v in (np.repeat(arr, n) if arr.size == 1 else arr))


def _set(module: nn.Module, **tensors: np.ndarray) -> nn.Module:
    with torch.no_grad():
        for field, value in tensors.items():
            getattr(module, field).copy_(torch.as_tensor(np.asarray(value)))
    return module


def _load_affine(name: str, node: nir.NIRNode) -> nn.Module:
    w = np.asarray(node.weight)
    if w.ndim != 2:
        raise node_error(name, node, f"weight must be 2-D [out, in], got shape {w.shape}")
    bias = isinstance(node, nir.Affine)
    if bias and np.asarray(node.bias).shape != (w.shape[0],):
        raise node_error(name, node, f"bias shape {np.asarray(node.bias).shape} does not match weight {w.shape}")
    m = layer.Linear(w.shape[1], w.shape[0], bias=bias)
    return _set(m, weight=w, **({"bias": node.bias} if bias else {}))


def _load_conv(name: str, node: nir.NIRNode) -> nn.Module:
    w = np.asarray(node.weight)
    dims = 1 if isinstance(node, nir.Conv1d) else 2
    if w.ndim != dims + 2:
        raise node_error(name, node, f"weight must be {dims + 2}-D [out, in/groups, *kernel], got shape {w.shape}")
    groups = int(np.asarray(node.groups))
    padding = node.padding if isinstance(node.padding, str) else _ints(node.padding, dims)
    cls = layer.Conv1d if dims == 1 else layer.Conv2d
    m = cls(w.shape[1] * groups, w.shape[0], w.shape[2:], stride=_ints(node.stride, dims), padding=padding,
            dilation=_ints(node.dilation, dims), groups=groups, bias=True)
    bias = np.zeros(w.shape[0]) if node.bias is None else np.asarray(node.bias)
    if bias.shape != (w.shape[0],):
        raise node_error(name, node, f"bias shape {bias.shape} does not match {w.shape[0]} output channels")
    return _set(m, weight=w, bias=bias)


def _load_pool(name: str, node: nir.NIRNode) -> nn.Module:
    args = (_ints(node.kernel_size, 2), _ints(node.stride, 2), _ints(node.padding, 2))
    return layer.AvgPool2d(*args) if isinstance(node, nir.AvgPool2d) else modules.SumPool2d(*args)


def _load_flatten(name: str, node: nir.Flatten) -> nn.Module:
    start, end = int(node.start_dim), int(node.end_dim)  # NIR dims exclude the batch
    return layer.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)


def _load_delay(name: str, node: nir.Delay, conv: Conventions) -> nn.Module:
    steps = _array(name, node, "delay") / conv.dt
    rounded = np.rint(steps)
    if np.any(steps < 0) or not np.allclose(steps, rounded, rtol=0, atol=1e-6 * max(1.0, float(np.max(steps)))):
        raise node_error(name, node, f"delay / dt = {steps.reshape(-1)[:4]}... is not a whole number of steps "
                                     f"≥ 0 (dt = {conv.dt:g} s)")
    flat = rounded.reshape(-1)
    if np.all(flat == flat[0]):
        return layer.Delay(int(flat[0]))
    return modules.ElementDelay(torch.from_numpy(rounded.astype(np.int64)))


def _neuron(loader: Callable[..., nn.Module], fields: tuple[str, ...], **kw) -> Callable[..., nn.Module]:
    def load(name: str, node: nir.NIRNode, conv: Conventions) -> nn.Module:
        return loader(_Neuron(name, node, conv, _shape(name, node, fields)), **kw)
    return load


_LIF = ("tau", "r", "v_leak")
_CUBA = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
#: NIR node type → the function that builds its sj module.
NODE_LOADERS: dict[type, Callable[[str, Any, Conventions], nn.Module]] = {
    nir.Affine: lambda n, node, c: _load_affine(n, node),
    nir.Linear: lambda n, node, c: _load_affine(n, node),
    nir.Conv1d: lambda n, node, c: _load_conv(n, node),
    nir.Conv2d: lambda n, node, c: _load_conv(n, node),
    nir.AvgPool2d: lambda n, node, c: _load_pool(n, node),
    nir.SumPool2d: lambda n, node, c: _load_pool(n, node),
    nir.Flatten: lambda n, node, c: _load_flatten(n, node),
    nir.Scale: lambda n, node, c: modules.Scale(torch.as_tensor(_array(n, node, "scale"), dtype=torch.float32)),
    nir.Threshold: lambda n, node, c: modules.Threshold(
        torch.as_tensor(_array(n, node, "threshold"), dtype=torch.float32), strict=c.threshold == ">"),
    nir.Delay: _load_delay,
    nir.IF: _neuron(_load_if, ("r", "v_threshold", "v_reset")),
    nir.LIF: _neuron(_load_lif, (*_LIF, "v_threshold", "v_reset"), spiking=True),
    nir.LI: _neuron(_load_lif, _LIF, spiking=False),
    nir.CubaLIF: _neuron(_load_cuba, (*_CUBA, "v_threshold", "v_reset"), spiking=True),
    nir.CubaLI: _neuron(_load_cuba, _CUBA, spiking=False),
}
#: Names of the NIR node types :func:`load` reads.
SUPPORTED = (*sorted(t.__name__ for t in NODE_LOADERS), "Input", "Output", "NIRGraph")


def _check_types(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]) -> None:
    """Edges must connect equal shapes wherever both ends declare one (a 0-d node, scalar parameters, broadcasts)."""
    def shape(node, key):
        t = getattr(node, key, None) or {}
        v = next(iter(t.values()), None) if isinstance(t, dict) and len(t) == 1 else None
        return None if v is None else tuple(int(d) for d in np.asarray(v).reshape(-1))

    for a, b in edges:
        out, inp = shape(nodes[a], "output_type"), shape(nodes[b], "input_type")
        if out and inp and out != inp and np.prod(out) != 0 and np.prod(inp) != 0:
            raise NIRError(f"edge {a!r} → {b!r}: {a!r} ({type(nodes[a]).__name__}) outputs shape {list(out)} but "
                           f"{b!r} ({type(nodes[b]).__name__}) takes shape {list(inp)}")


def load(source: nir.NIRGraph | str | os.PathLike, dt: float | None = None, profile: str = "auto",
         step_mode: str = "s") -> NIRNet:
    """Load a NIR graph (or file) as an sj module.

    Args:
        source: a ``nir.NIRGraph`` or the path of a NIR (HDF5) file.
        dt: seconds per step. Needed only when neither the graph's sj metadata nor the profile fixes it; must agree
            with ``graph.metadata['dt']`` when the graph records one.
        profile: ``'auto'`` (sj metadata if present, else the producer guessed from parameter signatures, see
            :func:`~sj.nir.conventions.guess_profile`), or one of ``'sj'``, ``'snntorch'``, ``'norse'``,
            ``'spikingjelly'``, ``'sinabs'`` (see docs/nir.md for what each means).
        step_mode: ``'s'`` (inputs ``[N, *]``) or ``'m'`` (inputs ``[T, N, *]``).

    Returns:
        A :class:`~sj.nir.network.NIRNet`. Raises :class:`~sj.nir.errors.NIRError` naming the node for unsupported
        node types, shape mismatches and implausible parameters (e.g. τ < dt).
    """
    graph = read(source) if isinstance(source, (str, os.PathLike)) else source
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"load() needs a nir.NIRGraph or a path, got {type(graph).__name__}")
    conv = resolve(graph, profile, dt)
    if profile == "auto" and not is_sj_graph(graph):
        guessed, reason = guess_profile(graph)
        if guessed:
            warnings.warn(f"sj.nir.load: no sj metadata; guessed producer {guessed!r} because {reason}. Pass "
                          f"profile= to choose explicitly.", NIRSemanticsWarning, stacklevel=2)
    if conv.warning:
        warnings.warn(f"sj.nir.load (profile {conv.name!r}): {conv.warning}", NIRSemanticsWarning, stacklevel=2)
    nodes, edges = flatten_graph(graph)
    _check_types(nodes, edges)
    built: dict[str, nn.Module | None] = {}
    for name, node in nodes.items():
        if isinstance(node, (nir.Input, nir.Output)):
            built[name] = None
            continue
        loader = NODE_LOADERS.get(type(node))
        if loader is None:
            raise node_error(name, node, f"node type {type(node).__name__!r} is not supported (supported: "
                                         f"{', '.join(SUPPORTED)})")
        node_conv = conv
        if is_sj_graph(graph) and node.metadata:
            node_conv = conv.with_metadata({k: v for k, v in node.metadata.items() if k in NODE_KEYS},
                                           f"node {name!r}")
        try:
            built[name] = loader(name, node, node_conv)
        except NIRError:
            raise
        except (ValueError, TypeError, RuntimeError, AttributeError) as exc:
            raise node_error(name, node, str(exc)) from exc
    top_inputs = sorted(k for k, v in graph.nodes.items() if isinstance(v, nir.Input))
    top_outputs = sorted(k for k, v in graph.nodes.items() if isinstance(v, nir.Output))
    net = NIRNet(built, edges, top_inputs, top_outputs)
    net.conventions = conv
    net.metadata = {k: _plain(v) for k, v in (graph.metadata or {}).items()}
    set_step_mode(net, step_mode)
    return net


__all__ = ["NODE_LOADERS", "SUPPORTED", "flatten_graph", "load", "read"]
