"""Subcommands sj-core contributes itself: ``sj backends``, ``sj demo``, ``sj bench``, ``sj info``."""

from __future__ import annotations

import argparse
import json

from sj.cli.command import Command
from sj.plugins.hookspecs import hookimpl


def _backends_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def default_choices() -> list[dict]:
    """What a call with no backend named runs on here, for the demo's neuron (LIF, ATan) on each device type present
    and each floating dtype: ``{"device", "dtype", "backend", "passed_over"}`` (see
    :func:`sj.backends.registry.default_choice`; other neurons follow the same order by their own support)."""
    import torch

    import sj.neuron.builtin  # noqa: F401 - registers the built-in declarations
    from sj.backends.registry import BackendError, default_choice
    from sj.ops import MultiStepSpec

    spec = MultiStepSpec("lif", "ATan", (2.0,), False, False, False)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    out = []
    for device in devices:
        for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            try:
                name, passed = default_choice(spec, torch.device(device), dtype)
            except BackendError as exc:
                name, passed = None, [str(exc)]
            out.append({"device": device, "dtype": str(dtype).removeprefix("torch."), "backend": name,
                        "passed_over": passed})
    return out


def _backends_run(args: argparse.Namespace) -> int:
    from sj.backends.registry import status
    from sj.plugins.registry import plugin_status

    rows = status()
    broken = [p for p in plugin_status() if not p.loaded]
    defaults = default_choices()
    if args.json:
        print(json.dumps({"backends": [r.as_dict() for r in rows], "default": defaults,
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
    print("default (no backend named; LIF/ATan, by priority among the backends that support the call):")
    unavailable = {r.name for r in rows if not r.available}
    for d in defaults:
        passed = [p.split(":")[0] + " (unavailable)" if p.split(":")[0] in unavailable else p
                  for p in d["passed_over"]]
        why = f"  (passed over: {'; '.join(passed)})" if passed else ""
        print(f"  {d['device']:<5} {d['dtype']:<9} -> {d['backend']}{why}")
    return 0


@hookimpl
def sj_cli_commands() -> list[Command]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_cli_commands`): sj-core's own subcommands."""
    from sj.cli import bench, demo, info, ops

    return [Command("backends", "list multi-step backends and whether each is available", _backends_args,
                    _backends_run), demo.COMMAND, bench.COMMAND, info.COMMAND, ops.COMMAND]
