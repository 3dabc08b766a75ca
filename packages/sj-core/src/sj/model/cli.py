"""``sj model list``: the zoo's models with their reference parameter counts."""

from __future__ import annotations

import argparse
import json

from sj.cli.command import Command


def _args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="model_command", metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="list the zoo models", description="list the zoo models")
    ls.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _run(args: argparse.Namespace) -> int:
    from sj.model.registry import MODELS

    if args.model_command != "list":
        print("usage: sj model list [--json]")
        return 2
    if args.json:
        print(json.dumps([{"name": m.name, "description": m.description, "parameters": m.reference_params,
                           "reference": m.reference} for m in MODELS.values()], indent=2))
        return 0
    width = max(len(n) for n in MODELS)
    print(f"{'model':<{width}}  {'parameters':>12}  description")
    for m in MODELS.values():
        approx = "~" if m.tolerance else " "
        print(f"{m.name:<{width}}  {approx}{m.reference_params:>11,}  {m.description}")
    print("All take [T, N, C, H, W] and accept neuron=, surrogate= and neuron keyword arguments; "
          "see sj.model.get_model.")
    return 0


COMMAND = Command("model", "the model zoo (sj model list)", _args, _run)
