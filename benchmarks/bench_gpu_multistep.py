"""Benchmark the multi-step op, forward + backward, on every backend available on the GPU, in one run.

Configurations: neurons LIF / IF / PLIF (ATan surrogate, α = 2, hard reset, v_th = 1, v_reset = 0, τ = 2 / w = 0),
input ``[T, 64, 65536]`` with ``T`` in {4, 16, 32, 64}, dtypes fp16 / bf16 / fp32. Every backend that
``sj.backends.registry.status()`` lists as available and that supports the configuration on CUDA is timed
(``torch``, ``triton``, ``cupy``, ...); with SpikingJelly installed its Triton ``LIFNode`` is timed too (LIF only,
same settings). Each timing is the median of ``--reps`` CUDA-event measurements of one forward + backward (input
and PLIF's ``w`` require grad; the upstream gradient of the spikes is a fixed tensor) after ``--warmup`` calls,
which also absorb compilation and autotuning.

Reported per configuration: milliseconds per backend, the speed-up over the ``torch`` backend (``torch ms /
backend ms``) and the ratio to a memory-bandwidth floor (``backend ms / floor ms``, the floor being one
``torch.add(x, 1, out=y)`` pass over a ``[T, 64, 65536]`` tensor of the dtype: 2 bytes moved per element per pass,
against about 6 for the multi-step forward + backward: read x, write spikes and h; read h and the spikes' gradient,
write x's gradient). Gradients are taken with ``torch.autograd.grad`` (nothing accumulates into ``.grad``).

Usage: ``python benchmarks/bench_gpu_multistep.py [--out results.json] [--T 4 16 32 64] [--dtypes fp16 bf16 fp32]
[--neurons lif if_ plif] [--warmup 3] [--reps 10]``. Needs a CUDA GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from collections.abc import Callable

import torch

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
SHAPE = (64, 65536)
SURROGATE, ALPHA = "ATan", 2.0


def _time(fn: Callable[[], None], warmup: int, reps: int) -> float:
    """Median milliseconds of ``fn`` over ``reps`` CUDA-event timings, after ``warmup`` calls."""
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


def _floor_ms(x: torch.Tensor, warmup: int, reps: int) -> float:
    """The memory-bandwidth floor: one ``torch.add(x, 1, out=y)`` pass (reads and writes every element once)."""
    y = torch.empty_like(x)
    return _time(lambda: torch.add(x, 1, out=y), warmup, reps)


def _params(neuron: str, dtype: torch.dtype) -> list:
    own = {"lif": [2.0], "if_": [], "plif": [torch.zeros((), device="cuda", dtype=dtype, requires_grad=True)]}
    return [1.0, 0.0, *own[neuron]]


def _sj_step(backend: str, neuron: str, x: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    from sj.ops import multistep

    v0 = torch.zeros(x.shape[1:], device=x.device, dtype=x.dtype)
    params = _params(neuron, x.dtype)
    wrt = [x, *(p for p in params if isinstance(p, torch.Tensor) and p.requires_grad)]

    def step() -> None:  # autograd.grad, not backward: no accumulation into .grad (an extra pass) in the timing
        spike, _, _ = multistep(neuron, x, [v0], params, surrogate=SURROGATE, surrogate_params=[ALPHA],
                                backend=backend)
        torch.autograd.grad(spike, wrt, grad)

    return step


def _spikingjelly_step(x: torch.Tensor, grad: torch.Tensor) -> Callable[[], None]:
    """SpikingJelly's Triton LIF with the same settings (raises ImportError when SpikingJelly is absent).

    SpikingJelly 2.0 picks its kernel from the tensors: its Triton LIF runs only when the state ``v`` is fp32 (a
    ``LIFNode`` fed fp16/bf16 makes an fp16/bf16 state and silently takes its torch reference path), so the
    functional form is called with an fp32 initial state — SpikingJelly at its fastest.
    """
    from spikingjelly.activation_based import functional, surrogate

    v0 = torch.zeros(x.shape[1:], device=x.device, dtype=torch.float32)
    fn = surrogate.ATan(alpha=ALPHA)

    def step() -> None:
        spike, _, _ = functional.lif_multi_step(x, v0, 2.0, True, 1.0, 0.0, fn, False, False)
        torch.autograd.grad(spike, [x], grad)

    return step


def _backends(neuron: str, dtype: torch.dtype) -> tuple[list[str], dict[str, str]]:
    from sj.backends.registry import status, unsupported_reason
    from sj.ops import MultiStepSpec

    spec = MultiStepSpec(neuron, SURROGATE, (ALPHA,), False, False, False)
    usable, skipped = [], {}
    for row in status():
        reason = unsupported_reason(row.name, spec, torch.device("cuda"), dtype)
        if reason is None:
            usable.append(row.name)
        else:
            skipped[row.name] = reason
    return usable, skipped


def run(args: argparse.Namespace) -> dict:
    import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
    from sj.backends.registry import status

    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "python": platform.python_version(),
               "backends": [r.as_dict() for r in status()], "shape": ["T", *SHAPE], "rows": []}
    for dname in args.dtypes:
        dtype = DTYPES[dname]
        for T in args.T:
            g = torch.Generator(device="cuda").manual_seed(T)
            x = (torch.rand((T, *SHAPE), device="cuda", generator=g) * 2.0).to(dtype).requires_grad_()
            grad = (torch.rand((T, *SHAPE), device="cuda", generator=g) - 0.5).to(dtype)
            floor = _floor_ms(x.detach(), args.warmup, args.reps)
            for neuron in args.neurons:
                row = {"neuron": neuron, "dtype": dname, "T": T, "floor_ms": floor, "ms": {}, "errors": {}}
                usable, row["skipped"] = _backends(neuron, dtype)
                steps = {b: _sj_step(b, neuron, x, grad) for b in usable}
                if neuron == "lif" and not args.no_spikingjelly:
                    try:
                        steps["spikingjelly-triton"] = _spikingjelly_step(x, grad)
                    except ImportError as exc:
                        row["skipped"]["spikingjelly-triton"] = f"not installed ({exc})"
                for name, step in steps.items():
                    try:
                        row["ms"][name] = _time(step, args.warmup, args.reps)
                    except Exception as exc:  # one failing backend must not hide the others
                        row["errors"][name] = f"{type(exc).__name__}: {exc}"[:500]
                base = row["ms"].get("torch")
                row["speedup_vs_torch"] = {b: base / ms for b, ms in row["ms"].items()} if base else {}
                row["ratio_to_floor"] = {b: ms / floor for b, ms in row["ms"].items()}
                results["rows"].append(row)
                print(_format_row(row), flush=True)
            x = grad = None
            torch.cuda.empty_cache()
    return results


def _format_row(row: dict) -> str:
    cells = [f"{b} {ms:8.3f} ms (x{row['speedup_vs_torch'].get(b, float('nan')):5.2f} vs torch, "
             f"{row['ratio_to_floor'][b]:5.2f} floor)" for b, ms in row["ms"].items()]
    errs = [f"{b} ERROR {e}" for b, e in row["errors"].items()]
    return (f"{row['neuron']:5s} {row['dtype']} T={row['T']:3d} floor {row['floor_ms']:.3f} ms | "
            + " | ".join(cells + errs))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="write the results as JSON to this path")
    p.add_argument("--T", type=int, nargs="+", default=[4, 16, 32, 64])
    p.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp16", "bf16", "fp32"])
    p.add_argument("--neurons", nargs="+", default=["lif", "if_", "plif"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--no-spikingjelly", action="store_true", help="do not try SpikingJelly's Triton LIF")
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
