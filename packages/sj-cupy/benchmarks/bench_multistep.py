"""Time the multi-step op on CUDA: cupy vs triton vs torch (whichever are available), forward and forward+backward.

Shapes follow sj-triton's benchmark: ``x_seq [T, 64, 65536]``, T in {4, 16, 32, 64}. Each figure is the median of
``--reps`` CUDA-event timings after warm-up (compilation excluded). Prints one table; ratios are relative to the
first listed backend that ran (``triton`` when present).

    python packages/sj-cupy/benchmarks/bench_multistep.py [--neuron lif] [--dtype float32] [--T 4 16 32 64]
"""

from __future__ import annotations

import argparse
import statistics

import torch


def _time(fn, reps: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _case(backend: str, neuron: str, T: int, shape: tuple[int, ...], dtype: torch.dtype):
    import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
    from sj.neuron import declaration
    from sj.ops import multistep

    decl = declaration.get(neuron)
    defaults = {"tau": 2.0, "w": 0.0, "k": 1.0, "c_decay": 0.5, "v_decay": 0.5}
    x = torch.rand(T, *shape, device="cuda", dtype=dtype) * 2
    x.requires_grad_(True)
    states = [torch.zeros(shape, device="cuda", dtype=dtype) for _ in decl.state_names]
    params = [1.0, 0.0] + [torch.tensor(defaults.get(p, 1.0), device="cuda", dtype=dtype, requires_grad=True)
                           for p in decl.params]

    def forward():
        with torch.no_grad():
            multistep(neuron, x, states, params, surrogate="ATan", surrogate_params=(2.0,), backend=backend)

    def train():
        spike, last, _ = multistep(neuron, x, states, params, surrogate="ATan", surrogate_params=(2.0,),
                                   backend=backend)
        torch.autograd.backward([spike, last[0]], [torch.ones_like(spike), torch.ones_like(last[0])])

    return forward, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--neuron", default="lif")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16", "float64"])
    ap.add_argument("--T", type=int, nargs="+", default=[4, 16, 32, 64])
    ap.add_argument("--shape", type=int, nargs="+", default=[64, 65536])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--backends", nargs="+", default=["triton", "cupy", "torch"])
    args = ap.parse_args()
    from sj.backends.registry import status

    ok = {r.name for r in status() if r.available}
    backends = [b for b in args.backends if b in ok]
    skipped = [b for b in args.backends if b not in ok]
    dtype = getattr(torch, args.dtype)
    print(f"# {torch.cuda.get_device_name()} | neuron {args.neuron} | {args.dtype} | S={args.shape} | "
          f"median of {args.reps} | backends {backends} (unavailable: {skipped})")
    print(f"{'T':>3} {'backend':>7} {'fwd ms':>9} {'fwd+bwd ms':>11} {'fwd ratio':>10} {'train ratio':>11}")
    for T in args.T:
        base = None
        for b in backends:
            fwd, train = _case(b, args.neuron, T, tuple(args.shape), dtype)
            tf, tt = _time(fwd, args.reps), _time(train, args.reps)
            base = base or (tf, tt)
            print(f"{T:>3} {b:>7} {tf:>9.3f} {tt:>11.3f} {tf / base[0]:>10.2f} {tt / base[1]:>11.2f}", flush=True)
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
