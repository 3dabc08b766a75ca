"""``sj info``: versions of sj packages and their dependencies, devices, and plug-ins."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform

from sj.cli.command import Command

_DEPS = ("torch", "numpy", "pluggy", "sympy", "triton", "cupy-cuda12x", "scikit-learn", "tqdm", "matplotlib")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect_info() -> dict:
    """Versions (sj packages and dependencies), Python/platform, devices and plug-in load status."""
    import torch

    from sj.plugins.registry import plugin_status

    sj_dists = sorted({d.metadata["Name"] for d in importlib.metadata.distributions()
                       if (d.metadata["Name"] or "").lower().startswith("sj-")})
    devices = [{"device": "cpu", "name": platform.processor() or platform.machine(),
                "threads": torch.get_num_threads()}]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devices.append({"device": f"cuda:{i}", "name": p.name, "memory_GiB": round(p.total_memory / 2**30, 1),
                            "capability": f"{p.major}.{p.minor}"})
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sj": {d: _version(d) for d in sj_dists},
        "dependencies": {d: v for d in _DEPS if (v := _version(d)) is not None},
        "cuda": {"torch_cuda": torch.version.cuda, "available": torch.cuda.is_available()},
        "devices": devices,
        "plugins": [{"name": p.name, "source": p.source, "loaded": p.loaded, "error": p.error}
                    for p in plugin_status()],
    }


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _run(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"python {info['python']} on {info['platform']}")
    for section in ("sj", "dependencies"):
        print(f"{section}:")
        for k, v in info[section].items():
            print(f"  {k:<20} {v}")
    print(f"torch CUDA build: {info['cuda']['torch_cuda']}, CUDA available: {info['cuda']['available']}")
    print("devices:")
    for d in info["devices"]:
        print("  " + ", ".join(f"{k}={v}" for k, v in d.items()))
    print("plug-ins:")
    for p in info["plugins"]:
        print(f"  {p['name']:<28} {'loaded' if p['loaded'] else 'FAILED: ' + str(p['error'])}  [{p['source']}]")
    return 0


COMMAND = Command("info", "versions, devices and plug-ins", _args, _run)
