"""Semantics that NIR leaves open (dt, integration, reset, threshold comparison, ...), per producer.

NIR stores continuous-time ODEs without a time step, integration scheme or reset mode, so every reader assumes its
own. sj writes what it means into ``graph.metadata`` (keys :data:`GRAPH_KEYS`, and per neuron node ``node.metadata``
keys :data:`NODE_KEYS`); when reading, a value is taken from, in order: the node's metadata, the graph's metadata, the
explicit ``dt=`` argument (dt only), and the producer profile. The profiles encode what each framework's exporter
writes (see docs/nir.md for the table and the evidence).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import nir
from sj.nir.errors import NIRError

FORMAT = "sj-nir/1"
INTEGRATIONS = ("forward-euler", "exp-decay")
RESETS = ("value", "subtract")
TIMINGS = ("same-step",)
THRESHOLDS = (">=", ">")
INITIAL_V = ("v_reset", "v_leak", "zero")
CUBA_ORDERS = ("current-first", "voltage-first")
TAU_FIELDS = ("tau", "dt*tau")
GRAPH_KEYS = ("format", "producer", "dt", "integration", "reset_mode", "reset_timing", "threshold", "initial_v",
              "cuba_order", "tau_field")
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
    warning: str = ""

    def __post_init__(self) -> None:
        for field, allowed in (("integration", INTEGRATIONS), ("reset_mode", RESETS), ("reset_timing", TIMINGS),
                               ("threshold", THRESHOLDS), ("initial_v", INITIAL_V), ("cuba_order", CUBA_ORDERS),
                               ("tau_field", TAU_FIELDS)):
            value = getattr(self, field)
            if value not in allowed:
                raise NIRError(f"conventions {self.name!r}: {field}={value!r} is not supported (supported: "
                               f"{', '.join(allowed)})")
        if self.dt is not None and not (math.isfinite(self.dt) and self.dt > 0):
            raise NIRError(f"conventions {self.name!r}: dt must be a positive number of seconds, got {self.dt!r}")

    def with_metadata(self, metadata: Mapping[str, Any], where: str) -> Conventions:
        """These conventions overridden by the sj keys present in ``metadata`` (graph or node metadata)."""
        updates: dict[str, Any] = {}
        for key in GRAPH_KEYS:
            if key in metadata and key not in ("format", "producer"):
                value = _plain(metadata[key])
                if key == "dt":
                    value = float(value)
                elif value == "per-node":
                    continue
                updates[key] = value
        try:
            return dataclasses.replace(self, **updates) if updates else self
        except NIRError as exc:
            raise NIRError(f"{where}: metadata {exc}") from None


# What each producer's exporter writes (evidence: the exporters' source, nir 1.0.8 / nirtorch 2.6; see docs/nir.md).
#: Producer profiles: framework name → the :class:`Conventions` its NIR exporter implies.
PROFILES: dict[str, Conventions] = {
    "sj": Conventions("sj", dt=None, threshold=">="),
    "snntorch": Conventions("snntorch", dt=1e-4, threshold=">", initial_v="zero",
                            warning="snnTorch's exporter does not record reset_mechanism or reset_delay: the graph is "
                                    "read as zero reset without delay (reset_mechanism='zero', reset_delay=False)"),
    "norse": Conventions("norse", dt=1e-3, threshold=">", initial_v="v_leak", cuba_order="voltage-first",
                         tau_field="dt*tau"),
    "spikingjelly": Conventions("spikingjelly", dt=1e-4, threshold=">=",
                                warning="SpikingJelly exports soft reset (v_reset=None) as hard reset to 0: soft-reset "
                                        "neurons cannot be recovered from its files"),
    "sinabs": Conventions("sinabs", dt=1.0, integration="exp-decay", reset_mode="subtract", threshold=">=",
                          initial_v="zero",
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
    """Whether the graph carries sj's semantics metadata."""
    return _plain((graph.metadata or {}).get("format")) == FORMAT


def _neurons(graph: nir.NIRGraph):
    for node in graph.nodes.values():
        if isinstance(node, nir.NIRGraph):
            yield from _neurons(node)
        elif isinstance(node, (nir.LIF, nir.LI, nir.CubaLIF, nir.CubaLI)):
            yield node


def guess_profile(graph: nir.NIRGraph) -> tuple[str | None, str]:
    """Guess the producer from the graph: ``(profile or None, reason)``.

    sj's metadata is decisive. Otherwise each producer's exporter leaves a signature in the neuron parameters: snnTorch
    writes ``r = τ/1e-4`` and ``v_leak = 0``; Norse ≤ 1.1 writes ``r = 1`` with ``τ`` fields far below its dt (it
    multiplies τ by dt, norse#411); Sinabs writes τ in steps (≥ 1) with ``r = 1`` and ``v_leak = 0``.
    """
    if is_sj_graph(graph):
        return "sj", f"graph.metadata['format'] == {FORMAT!r}"
    neurons = list(_neurons(graph))
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
        raise NIRError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILE_NAMES)}")
    if profile == "auto":
        guessed, reason = guess_profile(graph)
        if guessed and PROFILES[guessed].tau_field != "tau":
            raise NIRError(f"this graph looks like an export of {guessed!r} ({reason}), whose τ fields do not hold τ: "
                           f"its time constants are implausible as written. Load it with profile={guessed!r} to "
                           "apply that producer's reading, or pass dt= and fix the file")
        if guessed is None and dt is None:
            raise NIRError(f"cannot tell how to discretise this graph ({reason}) and it carries no sj metadata: pass "
                           f"dt= (seconds per step; NIR's own semantics are then used) or profile= one of "
                           f"{', '.join(PROFILES)}")
        conv = PROFILES[guessed] if guessed else Conventions("nir", dt=dt)
    else:
        conv = PROFILES[profile]
    if is_sj_graph(graph) or profile == "sj":
        conv = conv.with_metadata(graph.metadata or {}, "graph")
        if dt is not None and conv.dt is not None and not math.isclose(conv.dt, dt, rel_tol=1e-12):
            raise NIRError(f"the graph records dt={conv.dt} s (graph.metadata['dt']) but dt={dt} was passed; its "
                           "parameters were written for its own dt, so leave dt=None")
    if dt is not None:
        conv = dataclasses.replace(conv, dt=float(dt))
    if conv.dt is None:
        raise NIRError(f"profile {conv.name!r}: the graph does not record dt (graph.metadata['dt']); pass dt=")
    return conv
