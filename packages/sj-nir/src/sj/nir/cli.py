"""``sj nir inspect | convert | run``: look into, normalise and check NIR files.

Exit status: :data:`EXIT_OK` (0), :data:`EXIT_MISMATCH` (1: ``run`` found outputs that differ from the record),
:data:`EXIT_ERROR` (2: the file or the arguments were refused, with a one-line reason on stderr; also argparse's usage
errors), :data:`EXIT_INTERNAL` (3: an unexpected exception, a bug in sj-nir; the traceback is printed). Every name
read from a file is printed escaped (:func:`~sj.nir.errors.shown`), so a file cannot drive the terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings

import numpy as np
import torch

import nir
from sj.nir import golden, hdf5
from sj.nir.conventions import PROFILE_NAMES, _plain, guess_profile
from sj.nir.errors import NIRError, NIRFileError, NIRLimitError, shown
from sj.nir.exporter import export
from sj.nir.importer import flatten_graph, load, read
from sj.nir.limits import DEFAULT_LIMITS, Limits
from sj.nir.network import NIRNet

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 3


def _shape(node: nir.NIRNode, key: str) -> list[int] | None:
    t = getattr(node, key, None) or {}
    v = next(iter(t.values()), None) if isinstance(t, dict) and t else None
    return None if v is None else [int(d) for d in np.asarray(v).reshape(-1)]


def _param_summary(node: nir.NIRNode) -> dict[str, str]:
    out = {}
    for field, value in vars(node).items():
        if field in ("input_type", "output_type", "metadata") or value is None:
            continue
        arr = np.asarray(value)
        if arr.dtype.kind in "fiu" and arr.size > 1:
            out[field] = (f"{list(arr.shape)} {arr.dtype} min={arr.min():.6g} max={arr.max():.6g}" if arr.ndim
                          else str(arr))
        else:
            out[field] = str(_plain(arr) if arr.ndim == 0 else arr.tolist())
    return out


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(max_bytes=args.max_bytes, max_elements=args.max_elements, max_nodes=args.max_nodes)


def _inspect(args: argparse.Namespace) -> int:
    limits = _limits(args)
    graph = read(args.file, limits)
    nodes, edges = flatten_graph(graph, limits=limits)
    guessed, reason = guess_profile(graph)
    info = {
        "file": args.file,
        "metadata": {k: _plain(v) for k, v in (graph.metadata or {}).items()},
        "profile_guess": {"profile": guessed, "reason": reason},
        "nodes": {name: {"type": type(n).__name__, "input": _shape(n, "input_type"), "output": _shape(n, "output_type"),
                         "parameters": _param_summary(n),
                         "metadata": {k: _plain(v) for k, v in (n.metadata or {}).items()}}
                  for name, n in nodes.items()},
        "edges": [list(e) for e in edges],
        "golden": golden.attached(args.file, limits) is not None,
    }
    if args.json:  # json.dumps escapes control characters (and all non-ASCII) itself
        print(json.dumps(info, indent=2, default=str))
        return EXIT_OK
    print(f"{shown(args.file)}: {len(nodes)} nodes, {len(edges)} edges; golden record: "
          f"{'yes' if info['golden'] else 'no'}")
    print(f"profile guess: {guessed or 'none'} ({reason})")
    for k, v in info["metadata"].items():
        print(f"  metadata {shown(k)} = {shown(v)}")
    for name, n in info["nodes"].items():
        print(f"{shown(name)}: {n['type']} {n['input']} -> {n['output']}")
        for k, v in n["parameters"].items():
            print(f"    {shown(k)}: {shown(v)}")
        for k, v in n["metadata"].items():
            print(f"    metadata {shown(k)} = {shown(v)}")
    print("edges: " + ", ".join(f"{shown(a)} -> {shown(b)}" for a, b in edges))
    return EXIT_OK


def _load(args: argparse.Namespace, limits: Limits) -> tuple[nir.NIRGraph, NIRNet]:
    graph = read(args.file, limits)
    return graph, load(graph, dt=args.dt, profile=args.profile, limits=limits)


def _convert(args: argparse.Namespace) -> int:
    graph, net = _load(args, _limits(args))
    shape = _shape(graph.nodes[net.inputs[0]], "input_type")
    if len(net.inputs) != 1 or shape is None:
        raise NIRError("convert needs a graph with exactly one Input node of known shape")
    export(net, torch.zeros(1, *shape), dt=args.out_dt or net.conventions.dt, path=args.out)
    print(f"wrote {shown(args.out)} (sj conventions, dt={args.out_dt or net.conventions.dt} s, read with profile "
          f"{net.conventions.name!r})")
    return EXIT_OK


def _read_npy(path: str, limits: Limits) -> torch.Tensor:
    """A real-valued ``.npy`` array as float32, its declared size checked (memory-mapped) before it is read."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise NIRFileError(f"{shown(path)}: not a readable .npy array ({type(exc).__name__}: {shown(exc)})") from exc
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise NIRFileError(f"{shown(path)}: expected one real-valued .npy array")
    if arr.nbytes > limits.max_bytes:
        raise NIRLimitError(f"{shown(path)}: {arr.nbytes} bytes, over Limits.max_bytes = {limits.max_bytes}")
    return torch.from_numpy(np.array(arr, dtype=np.float32))


def _run(args: argparse.Namespace) -> int:
    limits = _limits(args)
    graph, net = _load(args, limits)
    shapes = {name: tuple(_shape(graph.nodes[name], "input_type") or ()) for name in net.inputs}
    data = hdf5.read_data(args.expected, limits) if args.expected else golden.attached(args.file, limits)
    if args.input:
        x = _read_npy(args.input, limits)
        if len(net.inputs) != 1 or x.dim() < 2 or tuple(x.shape[2:]) != shapes[net.inputs[0]]:
            raise NIRError(f"--input has shape {tuple(x.shape)}; this graph takes [T, N, "
                           f"{', '.join(map(str, shapes[net.inputs[0]]))}] (one input node)")
        xs = [x]
    elif data is not None:
        xs = golden.inputs_of(net, data, shapes)
    else:
        raise NIRError(f"{shown(args.file)} carries no golden record: pass --input x.npy ([T, N, *]) (and --record "
                       "to store the result as the record)")
    if args.record:
        golden.attach(args.file, golden.record(net, *xs))
        print(f"recorded {len(net.outputs)} output(s) over {xs[0].shape[0]} steps into {shown(args.file)}")
        return EXIT_OK
    if data is None:
        outs = golden.run(net, *xs)
        for name, y in zip(net.outputs, outs):
            print(f"output {name!r}: shape {list(y.shape)}, mean {y.float().mean().item():.6g} (no record to check)")
        return EXIT_OK
    problems = golden.compare(net, data, xs, rtol=args.rtol, atol=args.atol)
    for p in problems:
        print(f"MISMATCH {p}")
    if not problems:
        print(f"OK: {len(net.outputs)} output(s) over {xs[0].shape[0]} steps match the record")
    return EXIT_MISMATCH if problems else EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``inspect``, ``convert`` and ``run``."""
    sub = parser.add_subparsers(dest="nir_command", metavar="SUBCOMMAND", required=True)

    def limit_args(p: argparse.ArgumentParser) -> None:
        d = DEFAULT_LIMITS
        p.add_argument("--max-bytes", type=int, default=d.max_bytes,
                       help=f"largest total array data a file may declare (default {d.max_bytes})")
        p.add_argument("--max-elements", type=int, default=d.max_elements,
                       help=f"largest per-sample size of a node's activity or state (default {d.max_elements})")
        p.add_argument("--max-nodes", type=int, default=d.max_nodes,
                       help=f"most nodes of a graph (default {d.max_nodes})")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help="NIR file (HDF5)")
        p.add_argument("--profile", choices=PROFILE_NAMES, default="auto", help="producer conventions")
        p.add_argument("--dt", type=float, default=None, help="seconds per step (when not recorded)")
        limit_args(p)

    p = sub.add_parser("inspect", help="nodes, shapes, parameters, metadata and the producer guess")
    p.add_argument("file", help="NIR file (HDF5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    limit_args(p)
    p.set_defaults(_nir=_inspect)
    p = sub.add_parser("convert", help="read with a producer profile and rewrite with sj's recorded semantics")
    common(p)
    p.add_argument("out", help="output NIR file")
    p.add_argument("--out-dt", type=float, default=None, help="dt of the written graph (default: the one read)")
    p.set_defaults(_nir=_convert)
    p = sub.add_parser("run", help="run the graph and check it against its golden record (exit 1 on a mismatch)")
    common(p)
    p.add_argument("--input", help=".npy input [T, N, *] (default: the recorded input)")
    p.add_argument("--expected", help="a nir.write_data file to compare with (default: the record in FILE)")
    p.add_argument("--record", action="store_true", help="store this run as FILE's golden record")
    p.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance for real-valued outputs")
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance for real-valued outputs")
    p.set_defaults(_nir=_run)


def main(args: argparse.Namespace) -> int:
    """Dispatch ``sj nir SUBCOMMAND``. Returns :data:`EXIT_OK`, :data:`EXIT_MISMATCH`, :data:`EXIT_ERROR` (a refused
    file or argument: :class:`NIRError`, ``OSError``, invalid limits) or :data:`EXIT_INTERNAL` (anything else)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            return args._nir(args)
    except (NIRError, OSError) as exc:  # NIRError covers the invalid Limits values (a ValueError) too
        print(f"sj nir: error: {shown(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception:
        print("sj nir: internal error (a bug in sj-nir; please report it with this traceback):", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL
