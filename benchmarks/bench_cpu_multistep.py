"""Multi-step IF/LIF/PLIF on CPU: the ``cpu`` backend vs the ``torch`` backend vs the memory floor (and, when they
are installed, SpikingJelly's ``LIFNode(step_mode='m')`` and snnTorch's looped ``Leaky``). Every framework runs as
its users run it: a neuron module called on the sequence (sj's ``IFNode``/``LIFNode``/``ParametricLIFNode`` with
``step_mode='m'``), reset before each call.

The floor is one read-once/write-once pass over the same ``[T, N]`` data into a warm buffer
(``torch.add(x, 1, out=y)``). Forward runs under ``no_grad``; forward+backward runs ``spike.backward(g)`` with ``x``
(and PLIF's ``w``) requiring grad. Every figure is the median of repeated runs in this one process, the frameworks
of a row (floor included) measured in three alternating rounds; ratios are time / floor time, and speed-ups are the
other framework's time / ours. ``floor GB/s`` is the floor's own bandwidth:
far above the machine's memory bandwidth (read it off the largest shape) it says the floor's two tensors sat in
cache, which a kernel moving three or more streams of the same size does not get. ``1-op ×floor`` runs the floor's
pass as a one-op module through autograd (``y = x + 1``, identity gradient) in the same harness: what any module that
runs through torch autograd pays at least, per-call costs included.

``cold floor`` is the same pass over copies of the data that are not in the caches: the pass cycles through enough
``(x, y)`` pairs that each one was evicted from the last-level cache since its previous use (one pair when a pair alone
is over twice that cache). It is the floor for calls whose own data does not stay in the caches between repeats
(forward+backward moves five or six ``[T, N]`` streams where the floor moves two); ``cpu ×cold`` is the ``cpu``
backend's time over it. The issue's targets are stated against ``floor``; ``cold floor`` is reported beside it.

``--dtype bfloat16`` (or ``float16``) runs every framework, and the floor, on 16-bit tensors (modules converted
with ``.to(dtype)``); the ``cpu`` backend computes those in float32 (see docs/cpu.md).

Run: ``python benchmarks/bench_cpu_multistep.py [--quick] [--json out.json]`` (about 4 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import glob
import inspect
import itertools
import json
import math
import statistics
import time
from pathlib import Path

import torch

NEURONS = ("if_", "lif", "plif")
SURROGATE, ALPHA = "ATan", 2.0
DTYPE = torch.float32


def timed(fns: dict, budgets: dict[str, float], rounds: int = 3, max_reps: int = 1000) -> dict[str, float]:
    """Median seconds per call of each of ``fns``, measured in ``rounds`` alternating rounds: each function warms up
    (one call, then calls for a fifth of its budget), then every round runs each function for ``budget / rounds``
    seconds or ``max_reps / rounds`` calls (at least once), so every round contributes alike. A shared machine drifts
    by up to 2× within minutes; alternating puts every framework of a row under the same drift instead of whichever
    was measured at a slow moment, and a fast call still gets hundreds of samples."""
    for name, fn in fns.items():
        start = time.perf_counter()
        fn()
        while time.perf_counter() - start < budgets[name] / 5:
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start, n = time.perf_counter(), 0
            while n == 0 or (time.perf_counter() - start < budgets[name] / rounds and n < max_reps // rounds):
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
                n += 1
    return {name: statistics.median(v) for name, v in samples.items()}


def sj_node(backend: str, neuron: str) -> torch.nn.Module:
    """The sj neuron module users run (as SpikingJelly's ``LIFNode`` is theirs), multi-step, on ``backend``."""
    from sj import neuron as sjn
    from sj import surrogate

    sg = surrogate.ATan(alpha=ALPHA) if SURROGATE == "ATan" else getattr(surrogate, SURROGATE)()
    kw = dict(v_threshold=1.0, v_reset=0.0, surrogate_function=sg, step_mode="m", backend=backend)
    return {"if_": lambda: sjn.IFNode(**kw), "lif": lambda: sjn.LIFNode(tau=2.0, **kw),
            "plif": lambda: sjn.ParametricLIFNode(init_tau=2.0, **kw)}[neuron]().to(DTYPE)


def sj_runner(backend: str, neuron: str, x: torch.Tensor, g: torch.Tensor, backward: bool):
    node = sj_node(backend, neuron)
    return _module_runner(node, x, g, backward, reset=node.reset)


def spikingjelly_runner(neuron: str, x: torch.Tensor, g: torch.Tensor, backward: bool):
    from spikingjelly.activation_based import neuron as sjn
    from spikingjelly.activation_based import surrogate

    sg = surrogate.ATan(alpha=ALPHA)
    kw = dict(v_threshold=1.0, v_reset=0.0, surrogate_function=sg, step_mode="m")
    if "backend" in inspect.signature(sjn.LIFNode.__init__).parameters:  # 0.0.0.0.14 has it; 2.0 dropped it
        kw["backend"] = "torch"
    node = {"if_": lambda: sjn.IFNode(**kw), "lif": lambda: sjn.LIFNode(tau=2.0, **kw),
            "plif": lambda: sjn.ParametricLIFNode(init_tau=2.0, **kw)}[neuron]().to(DTYPE)
    return _module_runner(node, x, g, backward, reset=node.reset)


def snntorch_runner(neuron: str, x: torch.Tensor, g: torch.Tensor, backward: bool):
    import snntorch as snn
    from snntorch import surrogate

    beta = {"if_": 1.0, "lif": 0.5, "plif": 0.5}[neuron]
    cell = snn.Leaky(beta=beta, threshold=1.0, spike_grad=surrogate.atan(alpha=ALPHA), learn_beta=neuron == "plif",
                     reset_mechanism="zero").to(DTYPE)

    class Looped(torch.nn.Module):
        def forward(self, xs):
            mem = cell.init_leaky()
            out = []
            for t in range(xs.shape[0]):
                spk, mem = cell(xs[t], mem)
                out.append(spk)
            return torch.stack(out)

    return _module_runner(Looped(), x, g, backward, reset=lambda: None)


class _OnePass(torch.autograd.Function):
    """``x + 1`` with the identity gradient: one pass over the data each way."""

    @staticmethod
    def forward(ctx, x):
        return x + 1

    @staticmethod
    def backward(ctx, grad):
        return grad


class _OneOp(torch.nn.Module):
    def forward(self, xs):
        return _OnePass.apply(xs)


def one_op_runner(x: torch.Tensor, g: torch.Tensor, backward: bool):
    """The least an autograd module costs in this harness: the floor's pass through ``_OnePass``."""
    return _module_runner(_OneOp(), x, g, backward, reset=lambda: None)


def _module_runner(module, x, g, backward: bool, reset):
    if not backward:
        def run():
            reset()
            with torch.no_grad():
                module(x)
        return run
    xg = x.detach().requires_grad_()

    def run_bwd():
        reset()
        xg.grad = None
        module.zero_grad(set_to_none=True)
        module(xg).backward(g)
    return run_bwd


def optional_runners() -> dict:
    found = {}
    for name, fn, module in (("spikingjelly", spikingjelly_runner, "spikingjelly.activation_based.neuron"),
                             ("snntorch", snntorch_runner, "snntorch")):
        try:
            __import__(module)
        except Exception as exc:
            print(f"# {name} not measured: {type(exc).__name__}: {exc}")
        else:
            found[name] = fn
    return found


def last_level_cache_bytes() -> int:
    """Size of the largest CPU cache (Linux sysfs), or 32 MiB where it cannot be read."""
    sizes = []
    for f in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        text = Path(f).read_text().strip()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * scale)
    return max(sizes, default=32 << 20)


def cold_floor(x: torch.Tensor, cache_bytes: int):
    """The floor's pass, each call on the next of ``k`` pairs of copies of ``x`` (round robin): between two uses of a
    pair the others move over twice ``cache_bytes``, so every call reads and writes memory that left the cache."""
    pair = 2 * x.numel() * x.element_size()
    k = 1 if pair >= 2 * cache_bytes else math.ceil(2 * cache_bytes / pair) + 1
    # y filled once, so the timing has no first-touch page faults
    pairs = [(x.clone(), torch.zeros_like(x)) for _ in range(k)]
    at = itertools.cycle(pairs)

    def run():
        a, b = next(at)
        torch.add(a, 1, out=b)
    return run


def first_call_seconds() -> float:
    x = torch.rand(4, 1 << 14, dtype=DTYPE)
    t0 = time.perf_counter()
    sj_node("cpu", "lif")(x)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T in {4, 16}, N in {2^14, 2^18}, LIF only")
    ap.add_argument("--budget", type=float, default=0.6, help="seconds of repeats per measurement")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (the cpu backend follows it)")
    ap.add_argument("--cache-mb", type=float, help="last-level cache size for the cold floor (default: read from "
                                                   "sysfs, else 32)")
    ap.add_argument("--shape", action="append", metavar="T,LOG2N", help="only this shape (repeatable), e.g. 64,20")
    ap.add_argument("--surrogate", default="ATan",
                    help="surrogate of the sj runs (default ATan, alpha=2; others use their defaults and skip the "
                         "SpikingJelly/snnTorch comparison, which is defined with ATan)")
    ap.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default="float32",
                    help="dtype of the data and the modules (default float32)")
    args = ap.parse_args()
    global SURROGATE, DTYPE
    SURROGATE, DTYPE = args.surrogate, getattr(torch, args.dtype)
    if args.threads:
        torch.set_num_threads(args.threads)
    cache = int(args.cache_mb * (1 << 20)) if args.cache_mb else last_level_cache_bytes()
    first = first_call_seconds()
    print(f"# first cpu call (library load + kernel lookup + run, T=4, N=2^14): {first * 1e3:.1f} ms")
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, {args.dtype}, "
          f"{SURROGATE}({'alpha=2.0' if SURROGATE == 'ATan' else 'defaults'}), last-level cache {cache >> 20} MiB")
    others = optional_runners() if SURROGATE == "ATan" else {}
    Ts = (4, 16) if args.quick else (4, 16, 64)
    Ns = (14, 18) if args.quick else (14, 18, 20)
    # --shape: exactly the shapes given (any T and N), in order; else the grid
    shapes = ([tuple(int(v) for v in sh.split(",")) for sh in args.shape] if args.shape
              else [(T, logn) for T in Ts for logn in Ns])
    neurons = ["lif"] if args.quick else list(NEURONS)
    cols = ["cpu", "torch", *others]
    print("| neuron | T | N | pass | floor ms | floor GB/s | cold floor GB/s | 1-op ×floor | "
          + " | ".join(f"{c} ×floor" for c in cols) + " | cpu ×cold | "
          + " | ".join(f"cpu speed-up vs {c}" for c in cols[1:]) + " |")
    print("|" + "---|" * (9 + 2 * len(cols) - 1))
    rows = []
    for neuron in neurons:
        for T, logn in shapes:
            N = 1 << logn
            torch.manual_seed(0)
            x = (torch.rand(T, N) * 1.5).to(DTYPE)
            g = torch.randn(T, N).to(DTYPE)
            y = torch.empty_like(x)
            cold = cold_floor(x, cache)
            for backward in (False, True):
                fns = {"floor": lambda x=x, y=y: torch.add(x, 1, out=y), "cold floor": cold,
                       "1-op": one_op_runner(x, g, backward),
                       "cpu": sj_runner("cpu", neuron, x, g, backward),
                       "torch": sj_runner("torch", neuron, x, g, backward),
                       **{name: fn(neuron, x, g, backward) for name, fn in others.items()}}
                slow = args.budget if T * N <= (1 << 22) else 0.1  # the Python-loop frameworks at large shapes
                budgets = {name: args.budget if name in ("floor", "cold floor", "1-op", "cpu") else slow
                           for name in fns}
                res = timed(fns, budgets)
                floor, one_op, cold_s = res["floor"], res["1-op"], res["cold floor"]
                kind = "fwd+bwd" if backward else "fwd"
                ratios = [res[c] / floor for c in cols]
                speed = [res[c] / res["cpu"] for c in cols[1:]]
                moved = 2 * x.numel() * x.element_size()  # one read + one write
                print(f"| {neuron} | {T} | 2^{logn} | {kind} | {floor * 1e3:.3f} | {moved / floor / 1e9:.0f} | "
                      f"{moved / cold_s / 1e9:.0f} | {one_op / floor:.2f} | "
                      + " | ".join(f"{r:.2f}" for r in ratios) + f" | {res['cpu'] / cold_s:.2f} | "
                      + " | ".join(f"{s:.1f}" for s in speed) + " |", flush=True)
                rows.append({"neuron": neuron, "T": T, "N": N, "pass": kind, "floor_s": floor,
                             "cold_floor_s": cold_s, "one_op_s": one_op, **{f"{c}_s": res[c] for c in cols}})
    geo = {c: math.exp(statistics.mean(math.log(r[f"{c}_s"] / r["floor_s"]) for r in rows)) for c in cols}
    cold_geo = math.exp(statistics.mean(math.log(r["cpu_s"] / r["cold_floor_s"]) for r in rows))
    print("# geometric mean ×floor: " + ", ".join(f"{c} {v:.2f}" for c, v in geo.items())
          + f"; cpu ×cold floor {cold_geo:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"first_call_s": first, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
