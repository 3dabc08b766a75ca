"""SpikingJelly 2.0's ``activation_based.nir_exchange`` API on top of :mod:`sj.nir`.

``export_to_nir`` and ``import_from_nir`` take SpikingJelly 2.0's arguments (names, order, defaults), so scripts that
used ``spikingjelly.activation_based.nir_exchange`` run with ``sj.nir_exchange``. What they add to SJ 2.0:

- exports record their semantics (``graph.metadata``, see docs/nir.md) and are exact for every sj neuron NIR can
  express (per-neuron parameters, soft reset with a warning) where SJ 2.0 raises;
- imports read sj files by their recorded semantics and every other file the way SJ 2.0 does (profile
  ``'spikingjelly'``: IF ``r·dt`` per step, ``H ≥ V_th`` fires), untrusted files safely (:func:`sj.nir.read`).
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import os
import re
import warnings
from typing import Any

import nir
import torch
from torch import nn

from sj.base import MemoryModule
from sj.functional import reset_net
from sj.nir.conventions import _plain, is_sj_graph
from sj.nir.errors import NIRGraphError, NIRParameterError, NIRSemanticsWarning
from sj.nir.exporter import export
from sj.nir.importer import load, read
from sj.nir.network import NIRNet

__all__ = ["NIRStatefulNet", "export_to_nir", "import_from_nir"]


def export_to_nir(net: nn.Module, example_input: torch.Tensor, save_path: str | os.PathLike | None = None,
                  dt: float = 1e-4) -> nir.NIRGraph:
    """Export ``net`` to a NIR graph (SpikingJelly 2.0's signature; :func:`sj.nir.export` does the work).

    Args:
        net: the network (see :func:`sj.nir.export` for what it may contain); not modified.
        example_input: what ``net`` takes: ``[N, *]``, or ``[T, N, *]`` when a module is in ``'m'`` mode.
        save_path: also write the graph to this HDF5 file.
        dt: seconds per step (default 1e-4, what SpikingJelly 2.0 and snnTorch read).

    Returns:
        The ``nir.NIRGraph``, its nodes named as SpikingJelly 2.0 names them (:func:`_sj2_node_names`).
    """
    graph = _sj2_node_names(export(net, example_input, dt=dt), net)
    if save_path is not None:
        nir.write(save_path, graph)
    return graph


def _sj2_node_names(graph: nir.NIRGraph, net: nn.Module) -> nir.NIRGraph:
    """``graph`` (nodes named by module path, :func:`sj.nir.export`) with the node names SpikingJelly 2.0 writes: the
    names torch.fx gives the traced nodes. A module path's dots become ``_`` and a leading digit gets a ``_`` (module
    ``0`` is node ``_0``, ``features.0`` is ``features_0``); the Input node is named after ``net.forward``'s first
    argument; a name that is a Python builtin or keyword (``input``) or already taken gets the suffix ``_1``, ``_2``,
    ... Node order, edges and metadata are unchanged."""
    taken: set[str] = set()

    def fx_name(candidate: str) -> str:
        name = re.sub(r"\W", "_", candidate) or "_unnamed"
        name = f"_{name}" if name[0].isdigit() else name
        base, n = name, 0
        while name in taken or keyword.iskeyword(name) or hasattr(builtins, name):
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        return name

    arguments = [p for p in inspect.signature(net.forward).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    first_argument = arguments[0].name if arguments else "input"
    names = {key: fx_name(first_argument if key == "input" else key) for key in graph.nodes if key != "output"}
    names["output"] = fx_name("output")
    return nir.NIRGraph(nodes={names[k]: node for k, node in graph.nodes.items()},
                        edges=[(names[a], names[b]) for a, b in graph.edges], metadata=graph.metadata)


class NIRStatefulNet(nn.Module):
    """A loaded graph with SpikingJelly 2.0's calling convention: ``forward(input, state=None) -> (output, state)``.

    ``state=None`` starts from the reset state; passing back the returned ``state`` continues from it (a step loop
    must do so, as in SJ 2.0). ``state`` maps each stateful module's path to its memories; treat it as opaque.
    ``input`` is a tensor (``[N, *]`` in ``'s'`` mode, ``[T, N, *]`` in ``'m'``), or a tuple with one tensor per
    input node of a graph with several.

    Attributes:
        net: the :class:`~sj.nir.network.NIRNet` (stateful in the sj way: ``sj.functional.reset_net`` resets it).
    """

    def __init__(self, net: NIRNet) -> None:
        super().__init__()
        self.net = net

    def _stateful(self):
        return ((name, m) for name, m in self.net.named_modules() if isinstance(m, MemoryModule))

    def forward(self, input: torch.Tensor | tuple[torch.Tensor, ...],
                state: dict[str, dict[str, Any]] | None = None) -> tuple[Any, dict[str, dict[str, Any]]]:
        if state is None:
            reset_net(self.net)
        else:
            for name, m in self._stateful():
                if name not in state:
                    raise NIRGraphError(f"state has no entry for module {name!r}: pass the state this network "
                                        "returned, or None to start from the reset state")
                for key, value in state[name].items():
                    setattr(m, key, value)
        out = self.net(*input) if isinstance(input, tuple) else self.net(input)
        return out, {name: dict(m.named_memories()) for name, m in self._stateful()}


def import_from_nir(graph: nir.NIRGraph | str | os.PathLike, dt: float = 1e-4, device: str = "cpu",
                    dtype: torch.dtype = torch.float32, step_mode: str = "s") -> NIRStatefulNet:
    """Load a NIR graph (or file) with SpikingJelly 2.0's signature and calling convention.

    Args:
        graph: a ``nir.NIRGraph`` or the path of a NIR file.
        dt: seconds per step for graphs that do not record one (default 1e-4, as SJ 2.0). A graph written by sj
            records its dt, which is used (with a :class:`~sj.nir.errors.NIRSemanticsWarning` when it differs).
        device, dtype: where and in which dtype the returned module runs.
        step_mode: ``'s'`` or ``'m'`` (recurrent graphs run in both).

    Returns:
        A :class:`NIRStatefulNet`: ``output, state = net(input, state)``. Graphs without sj metadata are read as
        SpikingJelly 2.0 writes them (profile ``'spikingjelly'``).
    """
    if not (isinstance(dt, (int, float)) and dt > 0):
        raise NIRParameterError(f"dt must be a positive number of seconds, got {dt!r}")
    if step_mode not in ("s", "m"):
        raise NIRParameterError(f"step_mode must be 's' or 'm', got {step_mode!r}")
    g = read(graph) if isinstance(graph, (str, os.PathLike)) else graph
    if isinstance(g, nir.NIRGraph) and is_sj_graph(g):
        recorded = _plain(g.metadata.get("dt"))
        if recorded is not None and recorded != dt:
            warnings.warn(f"import_from_nir: the graph records dt={recorded} s, which is used (dt={dt} is for graphs "
                          "that record none)", NIRSemanticsWarning, stacklevel=2)
        net = load(g, dt=None if recorded is not None else dt, step_mode=step_mode)
    else:
        net = load(g, dt=dt, profile="spikingjelly", step_mode=step_mode)
    return NIRStatefulNet(net).to(device=device, dtype=dtype)
