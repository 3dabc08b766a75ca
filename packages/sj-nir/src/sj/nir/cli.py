"""``sj nir inspect | convert | run``: look into, normalise and check NIR files."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np
import torch

import nir
from sj.nir import golden
from sj.nir.conventions import PROFILE_NAMES, _plain, guess_profile
from sj.nir.errors import NIRError
from sj.nir.exporter import export
from sj.nir.importer import flatten_graph, load, read


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


def _inspect(args: argparse.Namespace) -> int:
    graph = read(args.file)
    nodes, edges = flatten_graph(graph)
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
        "golden": golden.attached(args.file) is not None,
    }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"{args.file}: {len(nodes)} nodes, {len(edges)} edges; golden record: {'yes' if info['golden'] else 'no'}")
    print(f"profile guess: {guessed or 'none'} ({reason})")
    for k, v in info["metadata"].items():
        print(f"  metadata {k} = {v}")
    for name, n in info["nodes"].items():
        print(f"{name}: {n['type']} {n['input']} -> {n['output']}")
        for k, v in n["parameters"].items():
            print(f"    {k}: {v}")
        for k, v in n["metadata"].items():
            print(f"    metadata {k} = {v}")
    print("edges: " + ", ".join(f"{a} -> {b}" for a, b in edges))
    return 0


def _load(args: argparse.Namespace):
    return load(args.file, dt=args.dt, profile=args.profile)


def _convert(args: argparse.Namespace) -> int:
    net = _load(args)
    graph = read(args.file)
    shape = _shape(graph.nodes[net.inputs[0]], "input_type")
    if len(net.inputs) != 1 or shape is None:
        raise NIRError("convert needs a graph with exactly one Input node of known shape")
    export(net, torch.zeros(1, *shape), dt=args.out_dt or net.conventions.dt, path=args.out)
    print(f"wrote {args.out} (sj conventions, dt={args.out_dt or net.conventions.dt} s, read with profile "
          f"{net.conventions.name!r})")
    return 0


def _read_data(path: str) -> nir.NIRGraphData:
    try:
        return nir.read_data(path)
    except (OSError, KeyError, ValueError) as exc:
        raise NIRError(f"{path}: not a nir.write_data file ({type(exc).__name__}: {exc})") from exc


def _run(args: argparse.Namespace) -> int:
    net = _load(args)
    graph = read(args.file)
    shapes = {name: tuple(_shape(graph.nodes[name], "input_type") or ()) for name in net.inputs}
    data = _read_data(args.expected) if args.expected else golden.attached(args.file)
    if args.input:
        x = torch.from_numpy(np.load(args.input)).float()
        if tuple(x.shape[2:]) != shapes[net.inputs[0]] or len(net.inputs) != 1:
            raise NIRError(f"--input has shape {tuple(x.shape)}; this graph takes [T, N, "
                           f"{', '.join(map(str, shapes[net.inputs[0]]))}] (one input node)")
        xs = [x]
    elif data is not None:
        xs = golden.inputs_of(net, data, shapes)
    else:
        raise NIRError(f"{args.file} carries no golden record: pass --input x.npy ([T, N, *]) (and --record to store "
                       "the result as the record)")
    if args.record:
        golden.attach(args.file, golden.record(net, *xs))
        print(f"recorded {len(net.outputs)} output(s) over {xs[0].shape[0]} steps into {args.file}")
        return 0
    if data is None:
        outs = golden.run(net, *xs)
        for name, y in zip(net.outputs, outs):
            print(f"output {name!r}: shape {list(y.shape)}, mean {y.float().mean().item():.6g} (no record to check)")
        return 0
    problems = golden.compare(net, data, xs, rtol=args.rtol, atol=args.atol)
    for p in problems:
        print(f"MISMATCH {p}")
    if not problems:
        print(f"OK: {len(net.outputs)} output(s) over {xs[0].shape[0]} steps match the record")
    return 1 if problems else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``inspect``, ``convert`` and ``run``."""
    sub = parser.add_subparsers(dest="nir_command", metavar="SUBCOMMAND", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help="NIR file (HDF5)")
        p.add_argument("--profile", choices=PROFILE_NAMES, default="auto", help="producer conventions")
        p.add_argument("--dt", type=float, default=None, help="seconds per step (when not recorded)")

    p = sub.add_parser("inspect", help="nodes, shapes, parameters, metadata and the producer guess")
    p.add_argument("file", help="NIR file (HDF5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(_nir=_inspect)
    p = sub.add_parser("convert", help="read with a producer profile and rewrite with sj's recorded semantics")
    common(p)
    p.add_argument("out", help="output NIR file")
    p.add_argument("--out-dt", type=float, default=None, help="dt of the written graph (default: the one read)")
    p.set_defaults(_nir=_convert)
    p = sub.add_parser("run", help="run the graph and check it against its golden record")
    common(p)
    p.add_argument("--input", help=".npy input [T, N, *] (default: the recorded input)")
    p.add_argument("--expected", help="a nir.write_data file to compare with (default: the record in FILE)")
    p.add_argument("--record", action="store_true", help="store this run as FILE's golden record")
    p.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance for real-valued outputs")
    p.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance for real-valued outputs")
    p.set_defaults(_nir=_run)


def main(args: argparse.Namespace) -> int:
    """Dispatch ``sj nir SUBCOMMAND``; a :class:`NIRError` prints its message and exits with 2."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            return args._nir(args)
    except (NIRError, FileNotFoundError) as exc:
        print(f"sj nir: error: {exc}", file=sys.stderr)
        return 2
