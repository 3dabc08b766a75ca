"""``sj ops MODEL --input-shape ...``: per-layer SynOps, ACs, MACs, firing rates and energy of one forward pass.

``MODEL`` is a zoo name (``sj model list``; built with ``--model-kwargs``), ``path/to/file.py:factory`` or
``package.module:factory`` (a callable returning an ``nn.Module``, called with ``--model-kwargs``). The input is
random: uniform in [0, 1) (``--input rand``), Bernoulli spikes (``--input spikes``, rate ``--rate``) or ones; energy
uses the simple model (``sj.op_counter.estimate_simple_energy``; ``--precision`` picks the cost preset). A bad model
or input prints one line naming the problem and exits with status 1.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import importlib.util
import json
import sys
from pathlib import Path

from sj.cli.command import Command

_PRESETS = ("fp32", "fp16", "int8")


def _fail(message: str) -> SystemExit:
    return SystemExit(f"sj ops: {message}")


def _kwargs(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise _fail(f"--model-kwargs takes KEY=VALUE pairs, got {item!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value  # a plain string
    return out


def _factory(spec: str):
    """The callable ``spec`` names: ``file.py:name``, ``module:name`` or a zoo model name."""
    target, sep, name = spec.rpartition(":")
    if sep:
        if not name.isidentifier():
            raise _fail(f"{spec!r}: {name!r} after ':' is not a Python name")
        if target.endswith(".py"):
            path = Path(target)
            if not path.is_file():
                raise _fail(f"{spec!r}: no file {target}")
            module_spec = importlib.util.spec_from_file_location(f"_sj_ops_{path.stem}", path)
            module = importlib.util.module_from_spec(module_spec)
            try:
                module_spec.loader.exec_module(module)
            except Exception as exc:
                raise _fail(f"{target} raised {type(exc).__name__} on import: {exc}") from exc
        else:
            try:
                module = importlib.import_module(target)
            except ImportError as exc:
                raise _fail(f"{spec!r}: cannot import {target}: {exc}") from exc
        if not callable(getattr(module, name, None)):
            raise _fail(f"{spec!r}: {target} has no callable {name!r}")
        return getattr(module, name)
    try:
        from sj.model.registry import MODELS, get_model
    except ImportError:
        raise _fail(f"{spec!r} is not FILE.py:FACTORY or MODULE:FACTORY, and the model zoo (sj.model) is not "
                    "installed") from None
    if spec not in MODELS:
        raise _fail(f"unknown model {spec!r}: not FILE.py:FACTORY or MODULE:FACTORY, nor a zoo model "
                    f"({', '.join(MODELS)})")
    return functools.partial(get_model, spec)  # the catalogue's defaults (e.g. its neuron), then the user's kwargs


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise _fail(f"--input-shape must be positive integers like 4,1,3,32,32, got {text!r}") from None
    if not dims or any(d < 1 for d in dims):
        raise _fail(f"--input-shape must be positive integers like 4,1,3,32,32, got {text!r}")
    return dims


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL_OR_SCRIPT",
                   help="zoo model name, path/to/file.py:factory or package.module:factory")
    p.add_argument("--input-shape", required=True, help="input shape, e.g. 4,1,3,32,32 ([T, N, C, H, W])")
    p.add_argument("--model-kwargs", nargs="*", default=[], metavar="KEY=VALUE",
                   help="arguments of the model builder (values are Python literals), e.g. num_classes=10")
    p.add_argument("--input", choices=("rand", "spikes", "ones"), default="rand",
                   help="input values: uniform [0, 1) (default), Bernoulli spikes, or ones")
    p.add_argument("--rate", type=float, default=0.2, help="spike probability of --input spikes (default 0.2)")
    p.add_argument("--precision", choices=_PRESETS, default="fp32",
                   help="energy cost preset (Horowitz 2014, 45 nm; default fp32)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the weights and the input (default 0)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _run(args: argparse.Namespace) -> int:
    import torch
    from torch import nn

    from sj.op_counter import SimpleEnergyConfig, SimpleEnergyCostConfig
    from sj.op_counter.layer_report import layer_report

    shape = _shape(args.input_shape)
    if not 0.0 <= args.rate <= 1.0:
        raise _fail(f"--rate must be in [0, 1], got {args.rate}")
    kwargs = _kwargs(args.model_kwargs)
    factory = _factory(args.model)
    torch.manual_seed(args.seed)
    try:
        model = factory(**kwargs)
    except Exception as exc:
        raise _fail(f"building {args.model} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise _fail(f"{args.model} returned a {type(model).__name__}, not an nn.Module")
    model.eval()
    x = {"rand": lambda: torch.rand(shape), "ones": lambda: torch.ones(shape),
         "spikes": lambda: (torch.rand(shape) < args.rate).float()}[args.input]()
    config = SimpleEnergyConfig(cost_config=getattr(SimpleEnergyCostConfig, args.precision)())
    try:
        rows, report = layer_report(model, x, config)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _fail(f"{args.model} failed on an input of shape {list(shape)}: {type(exc).__name__}: {first}") from exc
    if args.json:
        print(json.dumps({"model": args.model, "input_shape": list(shape), "layers": [r.as_dict() for r in rows],
                          "total": {**report.counts, "energy_total_pj": report.energy_total_pj}}, indent=2))
        return 0
    _print_table(rows, report, args)
    return 0


def _print_table(rows, report, args: argparse.Namespace) -> None:
    width = max([len(r.scope) for r in rows] + [5])
    kinds = max([len(r.kind) for r in rows] + [4])
    print(f"{'layer':<{width}}  {'type':<{kinds}}  {'SynOps':>12}  {'ACs':>12}  {'MACs':>12}  {'rate':>6}  "
          f"{'energy (nJ)':>12}")
    for r in rows:
        rate = f"{r.firing_rate:.3f}" if r.firing_rate is not None else "-"
        print(f"{r.scope:<{width}}  {r.kind:<{kinds}}  {r.synops:>12,}  {r.acs:>12,}  {r.macs:>12,}  {rate:>6}  "
              f"{r.energy_pj / 1e3:>12.3f}")
    c = report.counts
    print(f"{'total':<{width}}  {'':<{kinds}}  {c['synop']:>12,}  {c['ac']:>12,}  {c['mac']:>12,}  {'':>6}  "
          f"{report.energy_total_pj / 1e3:>12.3f}")
    print(f"energy {report.energy_total_pj / 1e6:.4f} µJ = compute {report.energy_compute_pj / 1e6:.4f} µJ "
          f"+ memory {report.energy_memory_pj / 1e6:.4f} µJ ({args.precision} costs, 45 nm; simple model: MAC "
          f"{report.config.cost_config.e_mac_pj} pJ, AC {report.config.cost_config.e_ac_pj} pJ, "
          f"{report.config.cost_config.e_memory_pj_per_byte} pJ/byte)", file=sys.stdout)
    for warning in report.warnings:
        print(f"warning: {warning}")


COMMAND = Command("ops", "per-layer SynOps, ACs, MACs, firing rates and energy of one forward pass", _args, _run)
