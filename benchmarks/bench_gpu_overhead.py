"""Split the cost of one multi-step LIF forward + backward on a CUDA GPU into host time and GPU kernel time.

For each backend available on CUDA (and SpikingJelly's Triton LIF when SpikingJelly is installed, called as in
``bench_gpu_multistep.py``), at a tiny shape ``[T, 64]`` (nothing but per-call cost) and a large one
``[T, 64 * 65536]``:

* ``host``: milliseconds per call of enqueuing ``--reps`` back-to-back calls (no synchronisation between them), the
  rate the Python side and the launches allow;
* ``wall``: the same span including the final ``torch.cuda.synchronize()``: equal to ``host`` when the host is the
  bottleneck, larger when the GPU is;
* ``kernels``: the GPU time per call that ``torch.profiler`` attributes to device activities (kernels and copies),
  with the three largest listed.

``--profile BACKEND`` also prints ``cProfile``'s top functions over 200 tiny-shape calls of that backend.

Usage: ``python benchmarks/bench_gpu_overhead.py [--T 16] [--dtypes fp32 fp16] [--reps 50] [--profile triton]``.
Needs a CUDA GPU. The ``torch`` backend is timed at the tiny shape only (its Python time loop dominates anyway).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable

import torch

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
SHAPES = {"tiny": 64, "large": 64 * 65536}
ALPHA = 2.0


def _step(backend: str, T: int, N: int, dtype: torch.dtype) -> Callable[[], None]:
    """One LIF (τ = 2, hard reset, ATan(α = 2)) forward + backward through ``backend`` or SpikingJelly."""
    x = torch.rand(T, N, device="cuda", dtype=dtype).mul(2).requires_grad_()
    grad = torch.rand(T, N, device="cuda", dtype=dtype) - 0.5
    if backend == "spikingjelly":
        from spikingjelly.activation_based import functional, surrogate

        fn, v0 = surrogate.ATan(alpha=ALPHA), torch.zeros(N, device="cuda")  # its Triton path needs an fp32 state

        def step() -> None:
            spike, _, _ = functional.lif_multi_step(x, v0, 2.0, True, 1.0, 0.0, fn, False, False)
            torch.autograd.grad(spike, [x], grad)
        return step
    from sj.ops import multistep

    v0 = torch.zeros(N, device="cuda", dtype=dtype)

    def step() -> None:
        spike, _, _ = multistep("lif", x, [v0], [1.0, 0.0, 2.0], surrogate="ATan", surrogate_params=[ALPHA],
                                backend=backend)
        torch.autograd.grad(spike, [x], grad)
    return step


def measure(step: Callable[[], None], reps: int) -> dict:
    for _ in range(5):  # compilation, autotuning, caches
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        step()
    host = (time.perf_counter() - t0) / reps * 1e3
    torch.cuda.synchronize()
    wall = (time.perf_counter() - t0) / reps * 1e3
    n = 10
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            step()
        torch.cuda.synchronize()
    events = [(e.self_device_time_total / n / 1e3, e.key) for e in prof.key_averages() if e.self_device_time_total]
    return {"host_ms": host, "wall_ms": wall, "kernels_ms": sum(t for t, _ in events),
            "top": sorted(events, reverse=True)[:3]}


def profile(backend: str, T: int, dtype: torch.dtype, top: int = 25) -> str:
    step = _step(backend, T, SHAPES["tiny"], dtype)
    for _ in range(20):
        step()
    torch.cuda.synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(200):
        step()
    torch.cuda.synchronize()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=16)
    p.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp32", "fp16"])
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--profile", metavar="BACKEND", help="also print cProfile's top functions for this backend")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_gpu_overhead: no CUDA GPU (torch.cuda.is_available() is False); nothing measured", file=sys.stderr)
        return 2
    import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
    from sj.backends.registry import status

    backends = [r.name for r in status() if r.available and r.name in ("torch", "triton", "cupy")]
    for backend in [*backends, "spikingjelly"]:
        for shape, N in SHAPES.items():
            if backend == "torch" and shape == "large":
                continue
            for dname in args.dtypes:
                try:
                    r = measure(_step(backend, args.T, N, DTYPES[dname]), args.reps)
                except Exception as exc:  # one missing or failing backend must not hide the others
                    print(f"{backend:12s} {dname} {shape}: {type(exc).__name__}: {str(exc)[:200]}")
                    continue
                top = "; ".join(f"{k[:40]} {t:.3f}" for t, k in r["top"])
                print(f"{backend:12s} {dname} T={args.T} N={N:8d}: host {r['host_ms']:.3f} ms/call, wall "
                      f"{r['wall_ms']:.3f}, kernels {r['kernels_ms']:.3f} | {top}", flush=True)
    if args.profile:
        print(profile(args.profile, args.T, DTYPES[args.dtypes[0]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
