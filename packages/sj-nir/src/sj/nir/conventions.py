"""Semantics that NIR leaves open (dt, integration, reset, threshold comparison, ...), per producer.

NIR stores continuous-time ODEs without a time step, integration scheme or reset mode, so every reader assumes its
own. sj writes what it means into ``graph.metadata`` (keys :data:`GRAPH_KEYS`, and per neuron node ``node.metadata``
keys :data:`NODE_KEYS`); when reading, a value is taken from, in order: the node's metadata, the graph's metadata, the
explicit ``dt=`` argument (dt only), and the producer profile. The profiles encode what each framework's exporter
writes (see docs/nir.md for the table and the evidence).

Format ``sj-nir/2`` adds ``if_gain`` (sj writes an IF's ``r`` as 1/dt per unit of per-step gain, the NIR ODE
``dv/dt = R·I`` under forward Euler, which SpikingJelly 2.0 requires); ``sj-nir/1`` files, which lack the key, wrote
the per-step gain itself and are read that way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import nir
from sj.nir.errors import NIRError, NIRFileError, NIRParameterError, NIRUnsupportedError

FORMAT = "sj-nir/2"
FORMATS = ("sj-nir/1", FORMAT)  # read: sj-nir/1 files lack if_gain and wrote IF r as the per-step gain
INTEGRATIONS = ("forward-euler", "exp-decay")
RESETS = ("value", "subtract")
TIMINGS = ("same-step",)
THRESHOLDS = (">=", ">")
INITIAL_V = ("v_reset", "v_leak", "zero")
CUBA_ORDERS = ("current-first", "voltage-first")
TAU_FIELDS = ("tau", "dt*tau")
IF_GAINS = ("r*dt", "r")
GRAPH_KEYS = ("format", "producer", "dt", "integration", "reset_mode", "reset_timing", "threshold", "initial_v",
              "cuba_order", "tau_field", "if_gain")
NODE_KEYS = ("reset_mode", "threshold", "initial_v", "cuba_order")


@dataclass(frozen=True)
class Conventions:
    """How to turn NIR's continuous-time neuron nodes into discrete steps.

    Attributes:
        name: profile name.
        dt: seconds per step (``None``: must come from the metadata or the ``dt=`` argument).
        integration: ``'forward-euler'`` (``v += dt/τ·(v_leak − v + r·I)``) or ``'exp-decay'`` (``v ← v_leak +
            (v − v_leak)·exp(−dt/τ) + r·I``, Sinabs).
        reset_mode: ``'value'`` (``v ← v_reset``) or ``'subtract'`` (``v ← v − v_threshold``).
        reset_timing: ``'same-step'`` (the step that fires also resets); nothing else is supported.
        threshold: ``'>='`` (sj, SpikingJelly, Sinabs) or ``'>'`` (NIR spec, snnTorch, Norse).
        initial_v: the potential before the first step: ``'v_reset'``, ``'v_leak'`` (Norse) or ``'zero'``.
        cuba_order: ``'current-first'`` (the new synaptic current drives the membrane) or ``'voltage-first'``.
        tau_field: ``'tau'`` (the field is τ in seconds) or ``'dt*tau'`` (the field holds dt·τ: Norse ≤ 1.1, norse#411).
        if_gain: what an ``IF`` node adds per step per unit input: ``'r*dt'`` (NIR's ``dv/dt = R·I`` under forward
            Euler; SpikingJelly 2.0 writes ``r = 1/dt``) or ``'r'`` (``r`` is the per-step gain: sj-nir/1, and readers
            such as Norse that ignore ``r``).
        warning: shown when the profile is used (known losses of the producer's exporter).
    """

    name: str
    dt: float | None
    integration: str = "forward-euler"
    reset_mode: str = "value"
    reset_timing: str = "same-step"
    threshold: str = ">"
    initial_v: str = "v_reset"
    cuba_order: str = "current-first"
    tau_field: str = "tau"
    if_gain: str = "r*dt"
    warning: str = ""

    def __post_init__(self) -> None:
        for field, allowed in (("integration", INTEGRATIONS), ("reset_mode", RESETS), ("reset_timing", TIMINGS),
                               ("threshold", THRESHOLDS), ("initial_v", INITIAL_V), ("cuba_order", CUBA_ORDERS),
                               ("tau_field", TAU_FIELDS), ("if_gain", IF_GAINS)):
            value = getattr(self, field)
            if value not in allowed:
                raise NIRUnsupportedError(f"conventions {self.name!r}: {field}={value!r} is not supported (supported: "
                               f"{', '.join(allowed)})")
        if self.dt is not None and not (math.isfinite(self.dt) and self.dt > 0):
            raise NIRParameterError(f"conventions {self.name!r}: dt must be a positive number of seconds, got "
                                    f"{self.dt!r}")

    def with_metadata(self, metadata: Mapping[str, Any], where: str) -> Conventions:
        """These conventions overridden by the sj keys present in ``metadata`` (graph or node metadata)."""
        updates: dict[str, Any] = {}
        for key in GRAPH_KEYS:
            if key not in metadata or key in ("format", "producer"):
                continue
            value = _plain(metadata[key])
            if key == "dt":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise NIRParameterError(f"{where}: metadata dt must be a number of seconds, got {value!r}")
                value = float(value)
            elif not isinstance(value, str):
                raise NIRFileError(f"{where}: metadata {key} must be a string, got {type(value).__name__}")
            elif value == "per-node":
                continue
            updates[key] = value
        try:
            return dataclasses.replace(self, **updates) if updates else self
        except NIRError as exc:
            raise type(exc)(f"{where}: metadata {exc}") from None


# What each producer's exporter writes (evidence: the exporters' source, nir 1.0.8 / nirtorch 2.6; see docs/nir.md).
#: Producer profiles: framework name → the :class:`Conventions` its NIR exporter implies.
PROFILES: dict[str, Conventions] = {
    "sj": Conventions("sj", dt=None, threshold=">=", if_gain="r"),  # sj-nir/2 files record if_gain = 'r*dt'
    "snntorch": Conventions("snntorch", dt=1e-4, threshold=">", initial_v="zero", if_gain="r",
                            warning="snnTorch's exporter does not record reset_mechanism or reset_delay: the graph is "
                                    "read as zero reset without delay (reset_mechanism='zero', reset_delay=False)"),
    "norse": Conventions("norse", dt=1e-3, threshold=">", initial_v="v_leak", cuba_order="voltage-first",
                         tau_field="dt*tau", if_gain="r"),
    "spikingjelly": Conventions("spikingjelly", dt=1e-4, threshold=">=", if_gain="r*dt"),
    "sinabs": Conventions("sinabs", dt=1.0, integration="exp-decay", reset_mode="subtract", threshold=">=",
                          initial_v="zero", if_gain="r",
                          warning="Sinabs neurons may emit several spikes per step (MultiSpike); sj emits at most one"),
}
PROFILE_NAMES = ("auto", *PROFILES)


def _plain(value: Any) -> Any:
    """A metadata value as a plain Python object (HDF5 returns numpy scalars and bytes)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def is_sj_graph(graph: nir.NIRGraph) -> bool:
    """Whether the graph carries sj's semantics metadata (format ``sj-nir/1`` or ``sj-nir/2``)."""
    fmt = _plain((graph.metadata or {}).get("format"))
    return isinstance(fmt, str) and fmt in FORMATS


def _nodes(graph: nir.NIRGraph):
    for node in graph.nodes.values():
        yield node
        if isinstance(node, nir.NIRGraph):
            yield from _nodes(node)


# SpikingJelly 2.0's export_to_nir (activation_based/nir_exchange/to_nir.py): these node types only, no metadata,
# weights as the float32 arrays of torch parameters, and every neuron parameter written with np.full from a Python
# float (float64, one value per node). Hand-written numpy graphs (float64 weights) and snnTorch/Norse exports (float32
# neuron parameters) differ in one of the two dtypes.
SJ2_DT = 1e-4
SJ2_NODE_TYPES = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d, nir.AvgPool2d, nir.Flatten,
                  nir.IF, nir.LIF, nir.CubaLIF)
_SJ2_FIELDS = {nir.IF: ("r", "v_threshold", "v_reset"), nir.LIF: ("tau", "r", "v_leak", "v_threshold", "v_reset"),
               nir.CubaLIF: ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")}


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _spikingjelly_form(node: nir.NIRNode) -> bool:
    """Whether a neuron node is one that SpikingJelly 2.0's exporter writes (its formulas, at dt = 1e-4)."""
    arrays = [np.asarray(getattr(node, f)) for f in _SJ2_FIELDS[type(node)]]
    if any(a.dtype != np.float64 or a.size == 0 or not np.all(a == a.reshape(-1)[0]) for a in arrays):
        return False
    p = {f: float(a.reshape(-1)[0]) for f, a in zip(_SJ2_FIELDS[type(node)], arrays)}
    if isinstance(node, nir.IF):
        return _close(p["r"], 1.0 / SJ2_DT)
    if isinstance(node, nir.LIF):
        steps = p["tau"] / SJ2_DT
        return steps >= 1.0 - 1e-6 and (_close(p["r"], 1.0) or _close(p["r"], steps)) and p["v_leak"] == p["v_reset"]
    return (_close(p["r"], p["tau_mem"] / SJ2_DT) and _close(p["w_in"], p["tau_syn"] / SJ2_DT) and p["v_leak"] == 0
            and p["tau_syn"] >= SJ2_DT * (1 - 1e-6) and p["tau_mem"] >= SJ2_DT * (1 - 1e-6))


def guess_profile(graph: nir.NIRGraph) -> tuple[str | None, str]:
    """Guess the producer from the graph: ``(profile or None, reason)``.

    sj's metadata is decisive. Otherwise each producer's exporter leaves a signature in the parameters:
    SpikingJelly 2.0 writes float32 weights and one float64 value per neuron node (``np.full`` of a Python float), IF
    ``r = 1/dt``, LIF ``v_leak = v_reset`` with ``r`` = 1 or τ/dt, CubaLIF ``r = τ_mem/dt``, ``w_in = τ_syn/dt``
    (dt = 1e-4), and no metadata; snnTorch writes ``r = τ/1e-4`` and ``v_leak = 0``; Norse ≤ 1.1 writes ``r = 1``
    with ``τ`` fields far below its dt (it multiplies τ by dt, norse#411); Sinabs writes τ in steps (≥ 1) with
    ``r = 1`` and ``v_leak = 0``.
    """
    if is_sj_graph(graph):
        return "sj", f"graph.metadata['format'] == {_plain(graph.metadata['format'])!r}"
    try:
        return _guess_foreign(graph)
    except (TypeError, ValueError):  # non-numeric or mis-shaped parameters: the loader names them
        return None, "parameters that are not numeric arrays"


def _guess_foreign(graph: nir.NIRGraph) -> tuple[str | None, str]:
    nodes = list(_nodes(graph))
    sj2_neurons = [n for n in nodes if isinstance(n, tuple(_SJ2_FIELDS))]
    weights = [np.asarray(n.weight) for n in nodes if hasattr(n, "weight")]
    if (sj2_neurons and weights and not graph.metadata and all(type(n) in SJ2_NODE_TYPES for n in nodes)
            and all(w.dtype == np.float32 for w in weights) and all(_spikingjelly_form(n) for n in sj2_neurons)):
        return "spikingjelly", ("float32 weights and every neuron in SpikingJelly 2.0's export form (float64, one "
                                "value per node; IF r = 1/dt, LIF v_leak = v_reset, CubaLIF r = τ_mem/dt and "
                                "w_in = τ_syn/dt at dt = 1e-4)")
    neurons = [n for n in nodes if isinstance(n, (nir.LIF, nir.LI, nir.CubaLIF, nir.CubaLI))]
    if not neurons:
        return None, "no LIF/LI/CubaLIF/CubaLI nodes to tell producers apart"

    def taus(n):
        return [np.asarray(n.tau)] if hasattr(n, "tau") else [np.asarray(n.tau_mem), np.asarray(n.tau_syn)]

    def all_(pred) -> bool:
        return all(pred(n) for n in neurons)

    zero_leak = all_(lambda n: np.all(np.asarray(n.v_leak) == 0))
    r_one = all_(lambda n: np.allclose(n.r, 1.0))
    if zero_leak and all_(lambda n: np.allclose(n.r, taus(n)[0] / 1e-4, rtol=1e-4)) and not r_one:
        return "snntorch", "r = τ/1e-4 and v_leak = 0 in every neuron (snnTorch's exporter, dt = 1e-4)"
    if r_one and all_(lambda n: all(np.all(t < 1e-3) for t in taus(n))):
        return "norse", "r = 1 and every τ < 1e-3 s (Norse ≤ 1.1 writes dt·τ, norse#411)"
    if r_one and zero_leak and all_(lambda n: all(np.all(t >= 1.0) for t in taus(n))):
        return "sinabs", "r = 1, v_leak = 0 and every τ ≥ 1 (Sinabs writes τ in steps)"
    return None, "no producer signature matched"


def resolve(graph: nir.NIRGraph, profile: str, dt: float | None) -> Conventions:
    """The conventions for reading ``graph``: the profile (or the guess for ``'auto'``), then graph metadata, then
    ``dt``. Raises :class:`NIRError` when dt stays unknown or the profile is unknown."""
    if profile not in PROFILE_NAMES:
        raise NIRUnsupportedError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILE_NAMES)}")
    if profile == "auto":
        guessed, reason = guess_profile(graph)
        if guessed and PROFILES[guessed].tau_field != "tau":
            raise NIRParameterError(f"this graph looks like an export of {guessed!r} ({reason}), whose τ fields do "
                                    f"not hold τ: its time constants are implausible as written. Load it with "
                                    f"profile={guessed!r} to apply that producer's reading, or pass dt= and fix the "
                                    "file")
        if guessed is None and dt is None:
            raise NIRParameterError(f"cannot tell how to discretise this graph ({reason}) and it carries no sj "
                                    f"metadata: pass dt= (seconds per step; NIR's own semantics are then used) or "
                                    f"profile= one of {', '.join(PROFILES)}")
        conv = PROFILES[guessed] if guessed else Conventions("nir", dt=dt)
    else:
        conv = PROFILES[profile]
    if is_sj_graph(graph) or profile == "sj":
        conv = conv.with_metadata(graph.metadata or {}, "graph")
        if dt is not None and conv.dt is not None and not math.isclose(conv.dt, dt, rel_tol=1e-12):
            raise NIRParameterError(f"the graph records dt={conv.dt} s (graph.metadata['dt']) but dt={dt} was "
                                    "passed; its parameters were written for its own dt, so leave dt=None")
    if dt is not None:
        conv = dataclasses.replace(conv, dt=float(dt))
    if conv.dt is None:
        raise NIRParameterError(f"profile {conv.name!r}: the graph does not record dt (graph.metadata['dt']); pass dt=")
    return conv
