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
from sj.nir import hdf5, modules
from sj.nir.conventions import NODE_KEYS, Conventions, _plain, guess_profile, is_sj_graph, resolve
from sj.nir.errors import (
    NIRError,
    NIRFileError,
    NIRGraphError,
    NIRLimitError,
    NIRParameterError,
    NIRSemanticsWarning,
    NIRUnsupportedError,
    node_error,
)
from sj.nir.limits import DEFAULT_LIMITS, Limits, check_declared_shapes, declared_shape, shape_size
from sj.nir.network import NIRNet
from sj.nir.neurons import NIRCubaLIFNode, NIRIFNode, NIRLIFNode

Param = float | torch.Tensor


def read(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> nir.NIRGraph:
    """Read a NIR file without trusting it (see :mod:`sj.nir.hdf5`): links, external storage and virtual datasets are
    refused, declared sizes are checked against ``limits`` before anything is read, and every malformed node is named
    (:class:`~sj.nir.errors.NIRFileError`, :class:`~sj.nir.errors.NIRUnsafeFileError`,
    :class:`~sj.nir.errors.NIRLimitError`). Raises ``FileNotFoundError`` when there is no such file."""
    return hdf5.read_graph(path, limits)


def flatten_graph(graph: nir.NIRGraph, prefix: str = "", limits: Limits = DEFAULT_LIMITS, depth: int = 0,
                  ) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """Inline nested ``NIRGraph`` nodes (``name.sub``); their Input/Output nodes stay as identity nodes.

    ``depth`` is how many subgraphs ``graph`` lies inside (0 for the top graph); deeper than ``limits.max_depth``
    raises :class:`~sj.nir.errors.NIRLimitError`. It is counted, not read off ``prefix``: node names may hold dots.

    Raises :class:`~sj.nir.errors.NIRGraphError` when two nodes get the same flattened name (a top-level ``g.b``
    and node ``b`` of subgraph ``g``): merging them would silently rewire the graph.
    """
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    origin: dict[str, str] = {}  # flattened name → where it comes from, for collision messages
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}

    def add(key: str, node: nir.NIRNode, where: str) -> None:
        if key in nodes:
            raise NIRGraphError(f"node names collide once subgraphs are inlined: {key!r} is both {origin[key]} and "
                                f"{where}; rename one of them")
        nodes[key], origin[key] = node, where

    if depth > limits.max_depth:
        raise NIRLimitError(f"subgraph {prefix[:-1]!r} is nested deeper than Limits.max_depth = {limits.max_depth}")
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten_graph(node, full + ".", limits, depth + 1)
            ins = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise NIRGraphError(f"subgraph {full!r} needs exactly one Input and one Output node, has {ins} and "
                                    f"{outs}")
            for k, v in sub_nodes.items():
                add(k, v, f"node {k[len(full) + 1:]!r} of subgraph {full!r}")
            edges += sub_edges
            entry[full], exit_[full] = f"{full}.{ins[0]}", f"{full}.{outs[0]}"
        else:
            add(full, node, f"node {full!r}")
    for a, b in graph.edges:
        for end in (a, b):  # an edge joins nodes of its own graph, never the inside of a subgraph
            if end not in graph.nodes:
                where = f"subgraph {prefix[:-1]!r}" if prefix else "the graph"
                raise NIRGraphError(f"edge ({prefix + a!r}, {prefix + b!r}) names node {prefix + end!r}, which is "
                                    f"not in {where}")
        a, b = prefix + a, prefix + b
        edges.append((exit_.get(a, a), entry.get(b, b)))
    return nodes, edges


# ------------------------------------------------------------------------------------------------ parameters
def _array(name: str, node: nir.NIRNode, field: str) -> np.ndarray:
    return _finite(name, node, field).astype(np.float64)


def _finite(name: str, node: nir.NIRNode, field: str) -> np.ndarray:
    """A numeric field as an array in its own dtype (weights keep float32), refused when missing or non-finite."""
    value = getattr(node, field, None)
    if value is None:
        raise node_error(name, node, f"field {field!r} is missing", NIRFileError)
    arr = np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value)
    if arr.dtype.kind not in "biuf":
        raise node_error(name, node, f"{field} has dtype {arr.dtype}, not a number", NIRFileError)
    if arr.size == 0:
        raise node_error(name, node, f"{field} is empty")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise node_error(name, node, f"{field} has {bad} non-finite value(s) (NaN or ±inf)")
    return arr


def _param(arr: np.ndarray | float, shape: tuple[int, ...] | None = None) -> Param:
    """A number when all elements are equal (so sj keeps a scalar), else a per-neuron tensor."""
    arr = np.asarray(arr, dtype=np.float64)
    if arr.size == 0:
        raise NIRParameterError("empty parameter array")
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
    gain = _array(n.name, n.node, "r")  # per-step gain: r, or r·dt for NIR's dv/dt = R·I (conventions.if_gain)
    if n.conv.if_gain == "r*dt":
        gain = gain * n.conv.dt
    if n.native() and _same(gain, 1.0) and n.v_init(None) is None:
        return IFNode(v_threshold=n.threshold(), v_reset=n.v_reset())
    return NIRIFNode(_param(gain, n.shape), n.threshold(), n.v_reset(), strict_threshold=n.strict,
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
        return NonSpikingLIFNode(_param(steps, n.shape), v_reset=leak)
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
            # sj's decays are the fractions kept per step: 1 − dt/τ
            return CUBALIFNode(_param(1.0 - 1.0 / syn, n.shape), _param(1.0 - 1.0 / mem, n.shape), n.threshold(),
                               n.v_reset())
        return NIRCubaLIFNode(**p, v_threshold=n.threshold(), v_reset=n.v_reset(), order=n.conv.cuba_order,
                              strict_threshold=n.strict, v_init=v_init)
    return NIRCubaLIFNode(**p, v_reset=p["v_leak"], order=n.conv.cuba_order, spiking=False,
                          v_init=_param(v_leak if n.conv.initial_v != "zero" else 0.0, n.shape))


# ------------------------------------------------------------------------------------------------ synapses, pooling
INT_MAX = 2**31 - 1  # kernel sizes, strides, paddings, dilations: torch's convolutions and pools index with int32


def _ints(name: str, node: nir.NIRNode, field: str, n: int, low: int) -> tuple[int, ...]:
    """An integer field as ``n`` ints (a single value is repeated), each a whole number in [``low``, INT_MAX]."""
    arr = np.atleast_1d(_finite(name, node, field)).reshape(-1)
    if arr.size not in (1, n) or np.any(arr != np.round(arr)) or np.any(arr < low) or np.any(np.abs(arr) > INT_MAX):
        raise node_error(name, node, f"{field} = {arr.tolist()[:4]} must be {n} whole number(s) in [{low}, "
                                     f"{INT_MAX}]")
    return tuple(int(v) for v in (np.repeat(arr, n) if arr.size == 1 else arr))


def _set(module: nn.Module, **tensors: np.ndarray) -> nn.Module:
    with torch.no_grad():
        for field, value in tensors.items():
            getattr(module, field).copy_(torch.as_tensor(np.asarray(value)))
    return module


def _load_affine(name: str, node: nir.NIRNode) -> nn.Module:
    w = _finite(name, node, "weight")
    if w.ndim != 2:
        raise node_error(name, node, f"weight must be 2-D [out, in], got shape {w.shape}")
    bias = isinstance(node, nir.Affine)
    if bias and _finite(name, node, "bias").shape != (w.shape[0],):
        raise node_error(name, node, f"bias shape {np.asarray(node.bias).shape} does not match weight {w.shape}")
    m = layer.Linear(w.shape[1], w.shape[0], bias=bias)
    return _set(m, weight=w, **({"bias": node.bias} if bias else {}))


def _conv_padding(name: str, node: nir.NIRNode, dims: int) -> str | tuple[int, ...]:
    if isinstance(node.padding, str):
        if node.padding not in ("same", "valid"):
            raise node_error(name, node, f"padding {node.padding!r} must be 'same', 'valid' or numbers")
        return node.padding
    return _ints(name, node, "padding", dims, 0)


def _load_conv(name: str, node: nir.NIRNode) -> nn.Module:
    w = _finite(name, node, "weight")
    dims = 1 if isinstance(node, nir.Conv1d) else 2
    if w.ndim != dims + 2:
        raise node_error(name, node, f"weight must be {dims + 2}-D [out, in/groups, *kernel], got shape {w.shape}")
    groups = _ints(name, node, "groups", 1, 1)[0]
    if w.shape[0] % groups:
        raise node_error(name, node, f"{w.shape[0]} output channels are not divisible by groups = {groups}")
    cls = layer.Conv1d if dims == 1 else layer.Conv2d
    m = cls(w.shape[1] * groups, w.shape[0], w.shape[2:], stride=_ints(name, node, "stride", dims, 1),
            padding=_conv_padding(name, node, dims), dilation=_ints(name, node, "dilation", dims, 1), groups=groups,
            bias=True)
    bias = np.zeros(w.shape[0]) if node.bias is None else _finite(name, node, "bias")
    if bias.shape != (w.shape[0],):
        raise node_error(name, node, f"bias shape {bias.shape} does not match {w.shape[0]} output channels")
    return _set(m, weight=w, bias=bias)


def _load_pool(name: str, node: nir.NIRNode) -> nn.Module:
    args = kernel, _, padding = (_ints(name, node, "kernel_size", 2, 1), _ints(name, node, "stride", 2, 1),
                                 _ints(name, node, "padding", 2, 0))
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise node_error(name, node, f"padding {list(padding)} exceeds half the kernel {list(kernel)}")
    return layer.AvgPool2d(*args) if isinstance(node, nir.AvgPool2d) else modules.SumPool2d(*args)


def _load_flatten(name: str, node: nir.Flatten) -> nn.Module:
    start, end = (_ints(name, node, f, 1, -(1 << 30))[0] for f in ("start_dim", "end_dim"))  # NIR dims: no batch
    return layer.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)


def _delay_steps(name: str, node: nir.Delay, conv: Conventions) -> np.ndarray:
    """``delay / dt`` as whole numbers of steps (float64), refused when not whole or negative."""
    steps = _array(name, node, "delay") / conv.dt
    if steps.size == 0:
        raise node_error(name, node, "delay is empty")
    rounded = np.rint(steps)
    if np.any(steps < 0) or not np.allclose(steps, rounded, rtol=0, atol=1e-6 * max(1.0, float(np.max(steps)))):
        raise node_error(name, node, f"delay / dt = {steps.reshape(-1)[:4]}... is not a whole number of steps "
                                     f"≥ 0 (dt = {conv.dt:g} s)")
    return rounded


def _load_delay(name: str, node: nir.Delay, conv: Conventions) -> nn.Module:
    rounded = _delay_steps(name, node, conv)
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
    nir.Scale: lambda n, node, c: modules.Scale(torch.as_tensor(_finite(n, node, "scale"), dtype=torch.float32)),
    nir.Threshold: lambda n, node, c: modules.Threshold(
        torch.as_tensor(_finite(n, node, "threshold"), dtype=torch.float32), strict=c.threshold == ">"),
    nir.Delay: _load_delay,
    nir.IF: _neuron(_load_if, ("r", "v_threshold", "v_reset")),
    nir.LIF: _neuron(_load_lif, (*_LIF, "v_threshold", "v_reset"), spiking=True),
    nir.LI: _neuron(_load_lif, _LIF, spiking=False),
    nir.CubaLIF: _neuron(_load_cuba, (*_CUBA, "v_threshold", "v_reset"), spiking=True),
    nir.CubaLI: _neuron(_load_cuba, _CUBA, spiking=False),
}
#: Names of the NIR node types :func:`load` reads.
SUPPORTED = (*sorted(t.__name__ for t in NODE_LOADERS), "Input", "Output", "NIRGraph")


def _declared(name: str, node: nir.NIRNode, key: str) -> tuple[int, ...] | None:
    return declared_shape(node, key, f"node {name!r} ({type(node).__name__})")


def _conv_elements(name: str, node: nir.NIRNode) -> int:
    """A lower bound of a convolution's output elements per sample (exact when ``input_shape`` is declared): a
    padding of 10⁹ alone makes a huge output from any input."""
    w = np.asarray(node.weight)
    dims = 1 if isinstance(node, nir.Conv1d) else 2
    if w.ndim != dims + 2:
        return 0  # the loader refuses the weight, naming its shape
    known = np.atleast_1d(np.asarray(node.input_shape if node.input_shape is not None else 0)).reshape(-1)
    shape_size(known, f"node {name!r} ({type(node).__name__}) input_shape")  # whole numbers ≥ 0
    sizes = np.repeat(known, dims) if known.size == 1 else known
    padding = _conv_padding(name, node, dims)
    stride, dilation = _ints(name, node, "stride", dims, 1), _ints(name, node, "dilation", dims, 1)
    total = int(w.shape[0])
    for i in range(dims):
        size = int(sizes[i]) if i < sizes.size else 0
        if padding == "same":
            out = size
        else:
            pad = 0 if padding == "valid" else padding[i]
            out = (size + 2 * pad - dilation[i] * (int(w.shape[2 + i]) - 1) - 1) // stride[i] + 1
        total *= max(1, out)
    return total


def _check_sizes(nodes: dict[str, nir.NIRNode], conv: Conventions, limits: Limits) -> None:
    """Refuse, before any module is built, nodes whose activity or state per sample would exceed
    ``limits.max_elements``: declared shapes (graph inputs first), convolution outputs, Delay buffers."""
    if len(nodes) > limits.max_nodes:
        raise NIRLimitError(f"the graph has {len(nodes)} nodes, over Limits.max_nodes = {limits.max_nodes}")
    for name, node in nodes.items():
        what = f"node {name!r} ({type(node).__name__})"
        check_declared_shapes(node, what, limits)
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            limits.elements(_conv_elements(name, node), f"{what} output (from its padding, kernel and input shape)")
        elif isinstance(node, nir.Delay):
            steps = _delay_steps(name, node, conv)
            width = steps.size if steps.ndim else shape_size(_declared(name, node, "input_type") or (), what)
            limits.elements(int(steps.max() + 1) * width, f"{what} buffer of {int(steps.max())} steps")


def _check_types(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]]) -> None:
    """Edges must connect equal shapes wherever both ends declare one (a 0-d node, scalar parameters, broadcasts)."""
    for a, b in edges:
        out, inp = _declared(a, nodes[a], "output_type"), _declared(b, nodes[b], "input_type")
        if out and inp and out != inp and np.prod(out) != 0 and np.prod(inp) != 0:
            raise NIRGraphError(f"edge {a!r} → {b!r}: {a!r} ({type(nodes[a]).__name__}) outputs shape {list(out)} but "
                                f"{b!r} ({type(nodes[b]).__name__}) takes shape {list(inp)}")


def load(source: nir.NIRGraph | str | os.PathLike, dt: float | None = None, profile: str = "auto",
         step_mode: str = "s", limits: Limits = DEFAULT_LIMITS) -> NIRNet:
    """Load a NIR graph (or file) as an sj module.

    Args:
        source: a ``nir.NIRGraph`` or the path of a NIR (HDF5) file (read with :func:`read`: untrusted files are
            safe to load).
        dt: seconds per step. Needed only when neither the graph's sj metadata nor the profile fixes it; must agree
            with ``graph.metadata['dt']`` when the graph records one.
        profile: ``'auto'`` (sj metadata if present, else the producer guessed from parameter signatures, see
            :func:`~sj.nir.conventions.guess_profile`), or one of ``'sj'``, ``'snntorch'``, ``'norse'``,
            ``'spikingjelly'``, ``'sinabs'`` (see docs/nir.md for what each means).
        step_mode: ``'s'`` (inputs ``[N, *]``) or ``'m'`` (inputs ``[T, N, *]``).
        limits: the sizes a file or graph may declare (:class:`~sj.nir.limits.Limits`; default
            :data:`~sj.nir.limits.DEFAULT_LIMITS`).

    Returns:
        A :class:`~sj.nir.network.NIRNet`. Raises a :class:`~sj.nir.errors.NIRError` subclass naming the node:
        :class:`~sj.nir.errors.NIRUnsupportedError` (node type), :class:`~sj.nir.errors.NIRGraphError` (edges,
        shapes, name collisions), :class:`~sj.nir.errors.NIRParameterError` (NaN/inf, τ < dt, non-whole delays),
        :class:`~sj.nir.errors.NIRLimitError` (sizes), :class:`~sj.nir.errors.NIRFileError` (the file).
    """
    graph = read(source, limits) if isinstance(source, (str, os.PathLike)) else source
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
    nodes, edges = flatten_graph(graph, limits=limits)
    _check_sizes(nodes, conv, limits)
    _check_types(nodes, edges)
    built: dict[str, nn.Module | None] = {}
    for name, node in nodes.items():
        if isinstance(node, (nir.Input, nir.Output)):
            built[name] = None
            continue
        loader = NODE_LOADERS.get(type(node))
        if loader is None:
            raise node_error(name, node, f"node type {type(node).__name__!r} is not supported (supported: "
                                         f"{', '.join(SUPPORTED)})", NIRUnsupportedError)
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
