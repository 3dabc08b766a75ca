"""Subcommands sj-core contributes itself: ``sj backends``, ``sj demo``, ``sj bench``, ``sj info``."""

from __future__ import annotations

import argparse
import json

from sj.cli.command import Command
from sj.plugins.hookspecs import hookimpl


def _backends_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _backends_run(args: argparse.Namespace) -> int:
    from sj.backends.registry import status
    from sj.plugins.registry import plugin_status

    rows = status()
    broken = [p for p in plugin_status() if not p.loaded]
    if args.json:
        print(json.dumps({"backends": [r.as_dict() for r in rows],
                          "plugins": [p.__dict__ for p in plugin_status()]}, indent=2))
        return 0
    width = max(len(r.name) for r in rows)
    for r in rows:
        state = "available" if r.available else f"unavailable: {r.reason}"
        print(f"{r.name:<{width}}  {state}")
        if r.details:
            print(f"{'':<{width}}  {r.details}")
    for p in broken:
        print(f"plug-in {p.name} [{p.source}] failed to load: {p.error}")
    return 0


@hookimpl
def sj_cli_commands() -> list[Command]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_cli_commands`): sj-core's own subcommands."""
    from sj.cli import bench, demo, info
    from sj.model import cli as model_cli

    return [Command("backends", "list multi-step backends and whether each is available", _backends_args,
                    _backends_run), demo.COMMAND, bench.COMMAND, info.COMMAND, model_cli.COMMAND]
