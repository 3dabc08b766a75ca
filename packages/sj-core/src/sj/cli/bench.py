"""``sj bench``: multi-step neuron timings per available backend, as ratios to ``torch`` and to a memory floor.

The floor is measured in the same run: the bandwidth of a device copy of ``T·numel`` elements gives the time needed
just to move the bytes a multi-step neuron must move (forward: read ``x``, write spikes; forward + backward: also
write ``h`` and, in backward, read the spike gradient and ``h`` and write the input gradient — 6 passes over
``T·numel`` elements). A ratio to the floor of 1 is a memory-bound kernel at copy speed.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from sj.cli import checks
from sj.cli.command import Command

FWD_PASSES, FWD_BWD_PASSES = 2, 6


@dataclass
class BenchRow:
    """One (neuron, backend, pass) measurement."""

    neuron: str
    backend: str
    mode: str  # "fwd" or "fwd+bwd"
    seconds: float | None
    vs_torch: float | None
    vs_floor: float | None
    note: str = ""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` runs after one warm-up (device synchronised)."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def copy_bandwidth(numel: int, device: torch.device, dtype: torch.dtype, repeats: int) -> float:
    """Bytes per second of ``dst.copy_(src)`` (read + write) for ``numel`` elements."""
    src = torch.rand(numel, device=device, dtype=dtype)
    dst = torch.empty_like(src)
    t = median_time(lambda: dst.copy_(src), device, repeats)
    return 2 * numel * src.element_size() / t


@functools.cache
def neuron_classes() -> dict[str, type]:
    """Neuron module classes ``bench`` can build with default arguments and that run the multi-step op (the
    declared spiking ones of :mod:`sj.neuron`)."""
    import sj.neuron as n

    skip = {"BaseNode", "LIAFNode", "NonSpikingLIFNode", "NonSpikingIFNode"}
    out = {}
    for name in n.__all__:
        cls = getattr(n, name)
        if name in skip or not (isinstance(cls, type) and issubclass(cls, n.BaseNode)):
            continue
        try:
            node = cls(step_mode="m")
        except (TypeError, ValueError):  # needs arguments, or runs single-step only
            continue
        if node.path() == "declared":
            out[name] = cls
    return out


def bench(neurons: list[str], T: int, numel: int, device: torch.device, dtype: torch.dtype, repeats: int,
          backends: list[str] | None = None) -> tuple[list[BenchRow], float]:
    """Time every requested neuron on every available backend; return the rows and the measured bandwidth (B/s)."""
    from sj.backends.registry import status, unsupported_reason
    from sj.functional import reset_net

    classes = neuron_classes()
    unknown = [n for n in neurons if n not in classes]
    if unknown:
        raise SystemExit(f"sj bench: unknown neuron(s) {unknown}; choose from {sorted(classes)}")
    rows_status = [r for r in status() if backends is None or r.name in backends]
    bandwidth = copy_bandwidth(T * numel, device, dtype, repeats)
    elem = torch.empty((), dtype=dtype).element_size()
    pass_time = T * numel * elem / bandwidth  # seconds to read or write T·numel elements once
    floors = {"fwd": FWD_PASSES * pass_time, "fwd+bwd": FWD_BWD_PASSES * pass_time}
    x = torch.rand(T, numel, device=device, dtype=dtype) * 2
    grad = torch.ones_like(x)
    rows: list[BenchRow] = []
    for name in neurons:
        node = classes[name](step_mode="m").to(device=device, dtype=dtype)
        times: dict[tuple[str, str], float] = {}
        for st in rows_status:
            reason = (st.reason if not st.available else unsupported_reason(st.name, node.spec(), device, dtype))
            if reason is not None:
                for mode in floors:
                    rows.append(BenchRow(name, st.name, mode, None, None, None, reason))
                continue
            node.backend = st.name
            xg = x.clone().requires_grad_(True)

            def fwd(node=node) -> None:
                reset_net(node)
                with torch.no_grad():
                    node(x)

            def fwd_bwd(node=node, xg=xg) -> None:
                reset_net(node)
                node(xg).backward(grad)

            for mode, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
                times[(st.name, mode)] = median_time(fn, device, repeats)
        for (backend, mode), t in times.items():
            ref = times.get(("torch", mode))
            rows.append(BenchRow(name, backend, mode, t, t / ref if ref else None, t / floors[mode]))
    return rows, bandwidth


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--neurons", default="LIFNode", help="comma-separated neuron classes (default LIFNode; 'all')")
    p.add_argument("--T", type=int, default=16, help="time steps (default 16)")
    p.add_argument("--numel", type=int, default=None,
                   help="neurons per step (default 2**22 on GPU, 2**16 on CPU)")
    p.add_argument("--device", default=None, help="torch device (default cuda if available, else cpu)")
    p.add_argument("--dtype", choices=("float32", "float64", "float16", "bfloat16"), default="float32")
    p.add_argument("--backends", default=None, help="comma-separated backends (default: all registered)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (median; default 5)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _run(args: argparse.Namespace) -> int:
    checks.at_least_one("bench", T=args.T, numel=args.numel, repeats=args.repeats)
    device = checks.device("bench", args.device)
    backends = checks.backends("bench", args.backends.split(",")) if args.backends is not None else None
    numel = args.numel or (2**22 if device.type == "cuda" else 2**16)
    neurons = sorted(neuron_classes()) if args.neurons == "all" else args.neurons.split(",")
    rows, bw = bench(neurons, args.T, numel, device, getattr(torch, args.dtype), args.repeats, backends)
    if args.json:
        print(json.dumps({"device": str(device), "T": args.T, "numel": numel, "dtype": args.dtype,
                          "copy_bandwidth_GBps": bw / 1e9, "rows": [asdict(r) for r in rows]}, indent=2))
        return 0
    print(f"device {device}, {args.dtype}, T={args.T}, {numel} neurons; measured copy bandwidth {bw / 1e9:.1f} GB/s")
    print(f"{'neuron':<18}{'backend':<12}{'pass':<9}{'ms':>10}{'vs torch':>10}{'vs floor':>10}")
    for r in rows:
        if r.seconds is None:
            print(f"{r.neuron:<18}{r.backend:<12}{r.mode:<9}{'-':>10}  skipped: {r.note}")
            continue
        vt = f"{r.vs_torch:.2f}x" if r.vs_torch is not None else "-"
        print(f"{r.neuron:<18}{r.backend:<12}{r.mode:<9}{r.seconds * 1e3:>10.3f}{vt:>10}{r.vs_floor:>9.1f}x")
    return 0


COMMAND = Command("bench", "time multi-step neurons on every available backend (vs torch and a memory floor)",
                  _args, _run)
