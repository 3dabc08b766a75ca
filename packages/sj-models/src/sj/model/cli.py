"""``sj model list`` (the zoo's catalogue) and ``sj ann2snn demo`` (also reached as ``sj demo --ann2snn``)."""

from __future__ import annotations

import argparse
import json

from sj.cli.command import Command


def _model_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="model_command", metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="list the zoo models", description="list the zoo models")
    ls.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _model_run(args: argparse.Namespace) -> int:
    from sj.model.registry import MODELS

    if args.model_command != "list":
        print("usage: sj model list [--json]")
        return 2
    if args.json:
        print(json.dumps([{"name": m.name, "module": m.module, "description": m.description,
                           "parameters": m.reference_params, "reference": m.reference} for m in MODELS.values()],
                         indent=2))
        return 0
    width = max(len(n) for n in MODELS)
    print(f"{'model':<{width}}  {'parameters':>12}  description")
    for m in MODELS.values():
        print(f"{m.name:<{width}}  {m.reference_params:>12,}  {m.description} (sj.model.{m.module})")
    print("Builders take SpikingJelly's keywords (spiking_neuron=, surrogate_function=, detach_reset=, ...); "
          "see sj.model.get_model.")
    return 0


def _ann2snn_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="ann2snn_command", metavar="SUBCOMMAND")
    demo = sub.add_parser("demo", help="train a small CNN on scikit-learn's digits, convert it, report ANN vs SNN "
                                       "accuracy over T in {8, 16, 32, 64} (needs sj-core[demo])")
    demo.add_argument("--backend", default=None, help="multi-step backend of the IF neurons (default torch)")
    demo.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (split, init, shuffling)")
    demo.add_argument("--no-progress", action="store_true", help="no calibration progress bar")


def _ann2snn_run(args: argparse.Namespace) -> int:
    if args.ann2snn_command != "demo":
        print("usage: sj ann2snn demo [--backend NAME] [--device DEV] [--seed N] [--no-progress]")
        return 2
    from sj.ann2snn.demo import run_from_cli

    return run_from_cli(backend=args.backend, device=args.device, seed=args.seed, progress=not args.no_progress)


MODEL_COMMAND = Command("model", "the model zoo (sj model list; sj-models)", _model_args, _model_run)
ANN2SNN_COMMAND = Command("ann2snn", "ANN to SNN conversion (sj ann2snn demo; sj-models)", _ann2snn_args, _ann2snn_run)
