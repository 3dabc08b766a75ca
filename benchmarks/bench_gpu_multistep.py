"""Time the multi-step op, forward + backward, on the GPU backends and SpikingJelly 2.0's Triton LIF, three ways.

For each configuration (neuron × dtype × T at ``[T, 64, 65536]``) and contender (``--backends``, default ``triton``
and ``cupy``; ``triton-default-blocks``: sj-triton with block sizes untuned, ``SJ_TRITON_AUTOTUNE=0``; SpikingJelly's
Triton ``LIFNode`` path for LIF when it imports), one "call" is a forward that records the graph plus
``torch.autograd.grad`` of the spikes (the input and PLIF's ``w`` require grad; the upstream gradient is fixed):

- ``single_ms``: one call between two CUDA events (median of ``--reps``): what one isolated call costs, host
  included when the host is the slower side;
- ``pipelined_ms``: ``--pipeline`` calls back to back between two events, divided by their count (median of
  ``--reps``): host and GPU overlap, so this is the larger of the host time and the GPU time per call;
- ``kernel_ms``: GPU time per call that ``torch.profiler`` attributes to kernels (no copies), with the neuron
  kernels' share (``neuron_kernel_ms``): what the GPU itself spends.

Reported beside them: ``floor_ms``, the bytes the call must move (x, spikes and H in the forward; H, the spikes'
gradient and x's gradient in the backward: ``6·T·N`` elements, plus the initial and last states) at the bandwidth a
device-to-device copy reaches in the same run (``copy_gbps``); ``kernel_vs_floor`` = ``neuron_kernel_ms / floor_ms``;
``vs_spikingjelly`` (LIF) = each time over SpikingJelly's. ``--out`` writes everything as JSON, and a ``targets``
section evaluates the issue's GPU targets (whole call ≤ SpikingJelly's, kernels ≤ 1.2× the floor, cupy within 10 %
of triton's kernel time, default block sizes within 3 % of tuned ones).

SpikingJelly is called as ``functional.lif_multi_step(x, v0_fp32, ...)``: its Triton kernel runs only with an fp32
state (a ``LIFNode`` fed fp16 makes an fp16 state and silently takes its torch path), so this is SpikingJelly at its
fastest. ``SJ_LIF_CUDA_IMPLEMENTATION=triton`` is set so that its selection does not prefer its CUDA extension.

Usage: ``python benchmarks/bench_gpu_multistep.py [--out r.json] [--T 4 16 32 64] [--dtypes fp16 bf16 fp32]
[--neurons lif] [--backends triton cupy] [--no-default-blocks] [--warmup 3] [--reps 7] [--pipeline 20]``.
Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable

os.environ.setdefault("SJ_LIF_CUDA_IMPLEMENTATION", "triton")  # SpikingJelly's Triton LIF, not its CUDA extension
import torch

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
SHAPE = (64, 65536)
SURROGATE, ALPHA, TAU = "ATan", 2.0, 2.0
SPIKINGJELLY = "spikingjelly-triton"
DEFAULT_BLOCKS = "triton-default-blocks"


def _events_ms(fn: Callable[[], None], calls: int, reps: int) -> float:
    """Median over ``reps`` of the CUDA-event time of ``calls`` back-to-back calls, per call."""
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)


def _kernel_ms(fn: Callable[[], None], calls: int, neuron_kernel: Callable[[str], bool]) -> tuple[float, float, list]:
    """GPU kernel time per call under the profiler: all kernels, the neuron kernels, and the three largest."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    events = [(e.self_device_time_total / calls / 1e3, e.key) for e in prof.key_averages()
              if e.self_device_time_total and not e.key.startswith(("Memcpy", "Memset"))]
    total = sum(t for t, _ in events)
    neuron = sum(t for t, k in events if neuron_kernel(k))
    return total, neuron, [(round(t, 4), k[:60]) for t, k in sorted(events, reverse=True)[:3]]


def _copy_gbps(x: torch.Tensor, reps: int) -> float:
    """Bandwidth of a device-to-device copy of ``x`` (bytes read + written per second, GB/s)."""
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    ms = _events_ms(lambda: y.copy_(x), 5, reps)
    return 2 * x.numel() * x.element_size() / (ms * 1e-3) / 1e9


def _floor_bytes(x: torch.Tensor) -> int:
    """Bytes one forward + backward must move: read x, write spikes and H; read H and the spikes' gradient, write
    x's gradient (6 sequences), plus read the initial state and write the last one, read the initial state and write
    its gradient in backward."""
    T, n = x.shape[0], x[0].numel()
    return (6 * T * n + 4 * n) * x.element_size()


def _is_neuron_kernel(name: str) -> bool:
    return name.startswith(("forward_kernel", "backward_kernel", "sj_fwd_", "sj_bwd_", "_forward_kernel",
                            "_backward_kernel"))


def _sj_step(backend: str, neuron: str, x: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    from sj.ops import multistep

    v0 = torch.zeros(x.shape[1:], device=x.device, dtype=x.dtype)
    const = lambda v: torch.tensor(v, device=x.device, dtype=x.dtype)  # noqa: E731 - 0-d tensors: no per-call copy
    own = {"lif": [const(TAU)], "if_": [], "plif": [torch.zeros((), device=x.device, dtype=x.dtype,
                                                                 requires_grad=True)]}[neuron]
    params = [const(1.0), const(0.0), *own]
    wrt = [x, *(p for p in params if p.requires_grad)]

    def step() -> None:  # autograd.grad, not backward: no accumulation into .grad (an extra pass) in the timing
        spike, _, _ = multistep(neuron, x, [v0], params, surrogate=SURROGATE, surrogate_params=[ALPHA],
                                backend=backend)
        torch.autograd.grad(spike, wrt, grad)

    return step


def _spikingjelly_step(x: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    from spikingjelly.activation_based import functional, surrogate

    v0 = torch.zeros(x.shape[1:], device=x.device, dtype=torch.float32)
    fn = surrogate.ATan(alpha=ALPHA)

    def step() -> None:
        spike, _, _ = functional.lif_multi_step(x, v0, TAU, True, 1.0, 0.0, fn, False, False)
        torch.autograd.grad(spike, [x], grad)

    return step


class _DefaultBlocks:
    """sj-triton with its default block sizes (tuning off) for the duration of one measurement: plans made under it
    are dropped afterwards, so the tuned contender keeps its own."""

    def __enter__(self) -> None:
        from sj.triton import launch

        self.saved = os.environ.get("SJ_TRITON_AUTOTUNE")
        os.environ["SJ_TRITON_AUTOTUNE"] = "0"
        self.plans = dict(launch._plans)
        launch._plans.clear()

    def __exit__(self, *exc) -> None:
        from sj.triton import launch

        launch._plans.clear()
        launch._plans.update(self.plans)
        if self.saved is None:
            os.environ.pop("SJ_TRITON_AUTOTUNE")
        else:
            os.environ["SJ_TRITON_AUTOTUNE"] = self.saved


def _measure(step: Callable[[], None], args: argparse.Namespace) -> dict:
    for _ in range(args.warmup):  # compilation, tuning, caches
        step()
    torch.cuda.synchronize()
    single = _events_ms(step, 1, args.reps)
    pipelined = _events_ms(step, args.pipeline, max(3, args.reps // 2))
    total, neuron, top = _kernel_ms(step, 3, _is_neuron_kernel)
    return {"single_ms": single, "pipelined_ms": pipelined, "kernel_ms": total, "neuron_kernel_ms": neuron,
            "top_kernels": top}


def _usable(backends: list[str], neuron: str, dtype: torch.dtype) -> tuple[list[str], dict[str, str]]:
    from sj.backends.registry import unsupported_reason
    from sj.ops import MultiStepSpec

    spec = MultiStepSpec(neuron, SURROGATE, (ALPHA,), False, False, False)
    usable, skipped = [], {}
    for b in backends:
        reason = unsupported_reason(b, spec, torch.device("cuda"), dtype)
        if reason is None:
            usable.append(b)
        else:
            skipped[b] = reason
    return usable, skipped


def run(args: argparse.Namespace) -> dict:
    import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
    from sj.backends.registry import status

    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "python": platform.python_version(), "backends": [r.as_dict() for r in status()],
               "shape": ["T", *SHAPE], "rows": []}
    for dname in args.dtypes:
        dtype = DTYPES[dname]
        for T in args.T:
            g = torch.Generator(device="cuda").manual_seed(T)
            x = (torch.rand((T, *SHAPE), device="cuda", generator=g) * 2.0).to(dtype).requires_grad_()
            grad = (torch.rand((T, *SHAPE), device="cuda", generator=g) - 0.5).to(dtype)
            gbps = _copy_gbps(x.detach(), args.reps)
            floor = _floor_bytes(x) / (gbps * 1e9) * 1e3
            for neuron in args.neurons:
                row = {"neuron": neuron, "dtype": dname, "T": T, "copy_gbps": gbps, "floor_ms": floor,
                       "results": {}, "errors": {}}
                usable, row["skipped"] = _usable(args.backends, neuron, dtype)
                steps = {b: (_sj_step(b, neuron, x, grad), None) for b in usable}
                if "triton" in usable and not args.no_default_blocks:
                    steps[DEFAULT_BLOCKS] = (_sj_step("triton", neuron, x, grad), _DefaultBlocks)
                if neuron == "lif" and not args.no_spikingjelly:
                    try:
                        steps[SPIKINGJELLY] = (_spikingjelly_step(x, grad), None)
                    except ImportError as exc:
                        row["skipped"][SPIKINGJELLY] = f"not installed ({exc})"
                for name, (step, context) in steps.items():
                    try:
                        if context is None:
                            r = _measure(step, args)
                        else:
                            with context():
                                r = _measure(step, args)
                        r["kernel_vs_floor"] = r["neuron_kernel_ms"] / floor
                        row["results"][name] = r
                    except Exception as exc:  # one failing contender must not hide the others
                        row["errors"][name] = f"{type(exc).__name__}: {exc}"[:500]
                _ratios(row)
                results["rows"].append(row)
                print(_format(row), flush=True)
            x = grad = None
            torch.cuda.empty_cache()
    results["targets"] = targets(results["rows"])
    for line in results["targets"]["lines"]:
        print(line)
    return results


def _ratios(row: dict) -> None:
    ref = row["results"].get(SPIKINGJELLY)
    if ref:
        for r in row["results"].values():
            r["vs_spikingjelly"] = {k: r[k] / ref[k] for k in ("single_ms", "pipelined_ms", "kernel_ms")}


def targets(rows: list[dict]) -> dict:
    """The issue's GPU targets, evaluated on ``rows``: each a list of (configuration, value, met)."""
    out: dict = {"whole_call_vs_spikingjelly": [], "kernel_vs_floor": [], "cupy_vs_triton_kernel": [],
                 "default_vs_tuned_blocks": [], "lines": []}
    for row in rows:
        res, where = row["results"], f"{row['neuron']} {row['dtype']} T={row['T']}"
        for b in ("triton", "cupy"):
            if b in res and SPIKINGJELLY in res:
                ratio = max(res[b]["vs_spikingjelly"]["single_ms"], res[b]["vs_spikingjelly"]["pipelined_ms"])
                out["whole_call_vs_spikingjelly"].append((f"{b} {where}", ratio, ratio <= 1.0))
            if b in res:
                out["kernel_vs_floor"].append((f"{b} {where}", res[b]["kernel_vs_floor"],
                                               res[b]["kernel_vs_floor"] <= 1.2))
        if "triton" in res and "cupy" in res:
            ratio = res["cupy"]["neuron_kernel_ms"] / res["triton"]["neuron_kernel_ms"]
            out["cupy_vs_triton_kernel"].append((where, ratio, ratio <= 1.1))
        if "triton" in res and DEFAULT_BLOCKS in res:
            ratio = res[DEFAULT_BLOCKS]["neuron_kernel_ms"] / res["triton"]["neuron_kernel_ms"]
            out["default_vs_tuned_blocks"].append((where, ratio, ratio <= 1.03))
    for name, checks in list(out.items()):
        if name == "lines" or not checks:
            continue
        met = sum(ok for _, _, ok in checks)
        worst = max(checks, key=lambda c: c[1])
        out["lines"].append(f"target {name}: met {met}/{len(checks)}; worst {worst[0]}: {worst[1]:.3f}")
    return out


def _format(row: dict) -> str:
    cells = []
    for b, r in row["results"].items():
        vs = f", {r['vs_spikingjelly']['single_ms']:.2f}x SJ" if "vs_spikingjelly" in r else ""
        cells.append(f"{b}: single {r['single_ms']:.3f} pipelined {r['pipelined_ms']:.3f} kernels "
                     f"{r['neuron_kernel_ms']:.3f} ({r['kernel_vs_floor']:.2f} floor{vs})")
    cells += [f"{b} ERROR {e}" for b, e in row["errors"].items()]
    return (f"{row['neuron']:5s} {row['dtype']} T={row['T']:3d} floor {row['floor_ms']:.3f} ms "
            f"({row['copy_gbps']:.0f} GB/s) | " + " | ".join(cells))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="write the results as JSON to this path")
    p.add_argument("--T", type=int, nargs="+", default=[4, 16, 32, 64])
    p.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp16", "bf16", "fp32"])
    p.add_argument("--neurons", nargs="+", default=["lif"])
    p.add_argument("--backends", nargs="+", default=["triton", "cupy"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--pipeline", type=int, default=20, help="back-to-back calls per pipelined timing")
    p.add_argument("--no-default-blocks", action="store_true", help="do not time sj-triton with untuned blocks")
    p.add_argument("--no-spikingjelly", action="store_true", help="do not time SpikingJelly's Triton LIF")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_gpu_multistep: no CUDA GPU (torch.cuda.is_available() is False); nothing measured",
              file=sys.stderr)
        return 2
    results = run(args)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
