"""``sj demo``: train a small conv SNN on scikit-learn's digits and print test accuracy and wall time."""

from __future__ import annotations

import argparse
from pathlib import Path

from sj.cli import checks
from sj.cli.command import Command


def _args(p: argparse.ArgumentParser) -> None:
    from sj.demo.train import DemoConfig

    d = DemoConfig()
    p.add_argument("--backend", default=None,
                   help="multi-step backend (default: none named, so each neuron runs on the fastest installed "
                        "backend that supports it, by a fixed order; `sj backends` shows the choice)")
    p.add_argument("--T", type=int, default=d.T, help=f"time steps (default {d.T})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"training epochs (default {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"batch size (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate (default {d.lr})")
    p.add_argument("--encoding", choices=("direct", "poisson"), default=d.encoding,
                   help="input encoding (default direct: the image is the input current at every step)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--subset", type=int, default=None, help="use only the first N of the 1797 samples (quick runs)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (split, init, shuffling)")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="save a spike raster of a test sample")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--ann2snn", action="store_true",
                   help="instead: train a small CNN, convert it to an SNN and report ANN vs SNN accuracy over T in "
                        "{8, 16, 32, 64} (runs `sj ann2snn demo`, contributed by the sj-models package)")


def _run_plugin_ann2snn_demo(args: argparse.Namespace) -> int:
    """``sj demo --ann2snn`` is ``sj ann2snn demo``, a command a plug-in (sj-models) contributes."""
    from sj.cli.main import main, missing_command_message, registered_commands

    if "ann2snn" not in registered_commands():
        raise SystemExit(f"sj demo --ann2snn: {missing_command_message('ann2snn')}")
    argv = ["ann2snn", "demo", "--seed", str(args.seed)]
    argv += ["--backend", args.backend] if args.backend else []
    argv += ["--device", args.device] if args.device else []
    argv += ["--no-progress"] if args.no_progress else []
    return main(argv)


def _run(args: argparse.Namespace) -> int:
    checks.at_least_one("demo", T=args.T, epochs=args.epochs, batch_size=args.batch_size, subset=args.subset)
    if not args.lr > 0:
        checks.fail("demo", f"--lr must be > 0, got {args.lr}")
    if args.backend is not None:
        checks.backend("demo", args.backend)
    checks.device("demo", args.device)
    if args.plot is not None and not Path(args.plot).parent.is_dir():
        checks.fail("demo", f"--plot {args.plot}: the directory {Path(args.plot).parent} does not exist")
    if args.ann2snn:
        return _run_plugin_ann2snn_demo(args)
    from sj.demo.train import DemoConfig, run_demo

    cfg = DemoConfig(T=args.T, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, encoding=args.encoding,
                     backend=args.backend, device=args.device, subset=args.subset, seed=args.seed, plot=args.plot,
                     progress=not args.no_progress)
    r = run_demo(cfg)
    print(f"backend: {r.backend} on {r.device}; T={cfg.T}, {cfg.epochs} epochs, {cfg.encoding} encoding")
    print(f"test accuracy: {r.accuracy * 100:.2f} %")
    print(f"wall time: {r.wall_time_s:.1f} s")
    if cfg.plot is not None:
        print(f"raster saved to {cfg.plot}")
    return 0


COMMAND = Command("demo", "train a small conv SNN on scikit-learn's digits (needs sj-core[demo])", _args, _run)
