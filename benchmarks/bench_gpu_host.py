"""Host time of one multi-step LIF call on the GPU backends, measured on a CPU: kernels compiled, launches stubbed.

What runs is each backend's real host path up to the driver call, on CPU tensors: sj-core's op and autograd, the
backend's validation, plan lookup, allocations and argument packing, and the launch entry — Triton's compiled-kernel
launcher for ``triton`` (:mod:`sj.triton.stub_driver`: kernels really compiled for ``sm_<arch>``, the driver's launch
a no-op), the ``cuLaunchKernel`` call for ``cupy`` (:mod:`sj.cupy.stub_launch`: CUBINs really compiled). SpikingJelly
2.0's Triton LIF (``functional.lif_multi_step`` → ``torch.ops.sj_lif`` → its autograd → ``JITFunction.run`` of its
kernels) is driven the same way when SpikingJelly is installed: its CUDA dispatch entries are registered for CPU
tensors and its ``torch.cuda.device`` guard and CUDA check are neutralised (both cost it time on a GPU, so its figure
here is, if anything, low). Nothing is computed on any path; CPU tensors are small (``[T, N]``, default N = 4096) so
that allocations cost what the caching allocator costs, not page faults.

Reported, per contender, in µs per call: the minimum over rounds of the calling thread's CPU time (``--clock thread``,
the default: on a shared machine, time the thread spends waiting for a core is not the path's cost; everything here
runs on the calling thread) or of wall-clock time (``--clock wall``); the contenders are interleaved in every round,
so load hits them alike: ``fwd+bwd`` (one forward that records the graph + ``autograd.grad``),
``fwd`` (the recording forward alone), ``bwd`` (``autograd.grad`` of one recorded graph, retained), ``infer``
(forward under ``no_grad``), and the ratio of ``fwd+bwd`` to SpikingJelly's. ``--profile NAME`` prints ``cProfile``'s
top functions of one contender's ``fwd+bwd``.

Usage: ``python benchmarks/bench_gpu_host.py [--T 16] [--N 4096] [--dtypes fp16 fp32] [--rounds 15] [--calls 200]
[--clock thread|wall] [--arch 90] [--json out.json] [--profile triton]``. Needs triton (and CuPy + NVRTC for
``cupy``), no GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import sys
import time
import types
import warnings
from collections.abc import Callable

os.environ.pop("TRITON_INTERPRET", None)  # compiled kernels: the interpreter would be another host path
import torch

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
ALPHA, TAU = 2.0, 2.0


def _sj_calls(backend: str, x: torch.Tensor, grad: torch.Tensor) -> dict[str, Callable[[], object]]:
    from sj.ops import multistep

    v0 = torch.zeros(x.shape[1:], dtype=x.dtype)

    def forward():
        return multistep("lif", x, [v0], [1.0, 0.0, TAU], surrogate="ATan", surrogate_params=[ALPHA],
                         backend=backend)[0]

    return _calls(forward, x, grad)


def _calls(forward: Callable[[], torch.Tensor], x: torch.Tensor, grad: torch.Tensor) -> dict[str, Callable]:
    recorded = forward()

    def infer():
        with torch.no_grad():
            return forward()

    return {"fwd+bwd": lambda: torch.autograd.grad(forward(), [x], grad), "fwd": forward,
            "bwd": lambda: torch.autograd.grad(recorded, [x], grad, retain_graph=True), "infer": infer}


class _TorchWithoutCudaChecks(types.ModuleType):
    """``torch`` as SpikingJelly's Triton LIF module sees it here: its CUDA-only check passes, its device guard is a
    no-op (CPU tensors have no CUDA device); everything else is torch itself."""

    def __init__(self) -> None:
        super().__init__("torch")
        self.cuda = types.SimpleNamespace(device=lambda device: contextlib.nullcontext())

    def __getattr__(self, name: str):
        return getattr(torch, name)

    @staticmethod
    def _check(cond, message=None) -> None:
        torch._check(True, message)


def _spikingjelly_on_cpu_tensors() -> None:
    """Route SpikingJelly's ``sj_lif`` ops for CPU tensors through the path its CUDA tensors take: the autograd
    kernel its ``register_autograd`` made, then its Triton forward/backward (raises ImportError without it)."""
    import spikingjelly._ops.lif as sj_lif
    import spikingjelly._ops.lif.autograd as sj_autograd
    import spikingjelly._ops.lif.triton as sj_triton
    from torch._library.autograd import Info, make_autograd_impl

    captured: dict = {}
    real = torch.library.register_autograd
    torch.library.register_autograd = lambda name, backward, setup_context=None, lib=None: captured.update(
        backward=backward, setup=setup_context)
    try:  # the same closures SpikingJelly registered for its ops, made again
        sj_autograd._register_ops("sj_lif::forward", "sj_lif::backward", register_fake=False)
    finally:
        torch.library.register_autograd = real
    sj_triton.torch = _TorchWithoutCudaChecks()
    op = torch.ops.sj_lif.forward.default
    lib = torch.library.Library("sj_lif", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel"
        lib.impl("forward", make_autograd_impl(op, Info(captured["backward"], captured["setup"])), "AutogradCPU",
                 with_keyset=True)
        lib.impl("forward", lambda *a, **k: sj_triton._forward_impl(*a, **k), "CPU")
        lib.impl("backward", lambda *a, **k: sj_triton._backward_impl(*a, **k), "CPU")
    _spikingjelly_on_cpu_tensors.library = lib  # keep the registrations alive
    _spikingjelly_on_cpu_tensors.selection = sj_lif._selection


def _spikingjelly_calls(x: torch.Tensor, grad: torch.Tensor) -> dict[str, Callable]:
    from spikingjelly.activation_based import functional, surrogate

    fn, v0 = surrogate.ATan(alpha=ALPHA), torch.zeros(x.shape[1:])  # its Triton path needs an fp32 state
    return _calls(lambda: functional.lif_multi_step(x, v0, TAU, True, 1.0, 0.0, fn, False, False)[0], x, grad)


CLOCKS = {"thread": time.thread_time, "wall": time.perf_counter}


def _timed(fn: Callable[[], object], calls: int, clock: Callable[[], float]) -> float:
    t0 = clock()
    for _ in range(calls):
        fn()
    return (clock() - t0) / calls * 1e6


def measure(contenders: dict[str, dict[str, Callable]], rounds: int, calls: int, clock: str = "thread"
            ) -> dict[str, dict[str, float]]:
    """Minimum µs per call of every contender's every call kind, interleaved round by round."""
    for kinds in contenders.values():  # compile, load, plan, warm the allocator
        for fn in kinds.values():
            for _ in range(20):
                fn()
    best: dict[str, dict[str, float]] = {name: {} for name in contenders}
    for _ in range(rounds):
        for name, kinds in contenders.items():
            for kind, fn in kinds.items():
                us = _timed(fn, calls, CLOCKS[clock])
                best[name][kind] = min(best[name].get(kind, float("inf")), us)
    return best


def _profile(fn: Callable[[], object], top: int = 25) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(500):
        fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def run(args: argparse.Namespace) -> dict:
    import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
    from sj.backends.registry import get_backend

    torch.set_num_threads(1)  # the host path is one thread's work; small CPU tensors would not use more anyway
    results: dict = {"python": platform.python_version(), "torch": torch.__version__, "arch": args.arch,
                     "T": args.T, "N": args.N, "clock": args.clock, "cpu_count": os.cpu_count(), "rows": [],
                     "skipped": {}}
    try:
        import triton

        results["triton"] = triton.__version__
    except ImportError as exc:
        sys.exit(f"bench_gpu_host: triton is needed ({exc})")
    with contextlib.ExitStack() as stack:
        from sj.triton.stub_driver import stubbed_launches as triton_stub

        stack.enter_context(triton_stub(args.arch))
        backends = ["triton"]
        try:
            from sj.cupy.stub_launch import stubbed_launches as cupy_stub

            stack.enter_context(cupy_stub(args.arch))
            if get_backend("cupy").availability() is None:
                backends.append("cupy")
        except ImportError as exc:
            results["skipped"]["cupy"] = f"sj-cupy/CuPy not importable ({exc})"
        try:
            _spikingjelly_on_cpu_tensors()
            spikingjelly = True
        except (ImportError, AttributeError) as exc:
            results["skipped"]["spikingjelly-triton"] = f"SpikingJelly 2.0 not drivable ({exc})"
            spikingjelly = False
        for dname in args.dtypes:
            dtype = DTYPES[dname]
            g = torch.Generator().manual_seed(0)
            x = (torch.rand(args.T, args.N, generator=g) * 2).to(dtype).requires_grad_()
            grad = (torch.rand(args.T, args.N, generator=g) - 0.5).to(dtype)
            contenders = {f"sj-{b}": _sj_calls(b, x, grad) for b in backends}
            if spikingjelly:
                contenders["spikingjelly-triton"] = _spikingjelly_calls(x, grad)
            best = measure(contenders, args.rounds, args.calls, args.clock)
            reference = best.get("spikingjelly-triton", {}).get("fwd+bwd")
            for name, us in best.items():
                row = {"contender": name, "dtype": dname, **{k: round(v, 1) for k, v in us.items()}}
                if reference:
                    row["vs_spikingjelly"] = round(us["fwd+bwd"] / reference, 3)
                results["rows"].append(row)
                print(_format(row), flush=True)
            if args.profile:
                name = "spikingjelly-triton" if args.profile == "spikingjelly" else f"sj-{args.profile}"
                if name in contenders:
                    print(_profile(contenders[name]["fwd+bwd"]))
    return results


def _format(row: dict) -> str:
    ratio = f"  ({row['vs_spikingjelly']:.2f}x SpikingJelly)" if "vs_spikingjelly" in row else ""
    return (f"{row['contender']:20s} {row['dtype']}: fwd+bwd {row['fwd+bwd']:7.1f} us | fwd {row['fwd']:6.1f} | "
            f"bwd {row['bwd']:6.1f} | infer {row['infer']:6.1f}{ratio}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=16)
    p.add_argument("--N", type=int, default=4096)
    p.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp16", "fp32"])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--clock", choices=sorted(CLOCKS), default="thread", help="thread CPU time or wall-clock time")
    p.add_argument("--arch", type=int, default=90, help="the sm_ architecture kernels are compiled for")
    p.add_argument("--json", help="write the results to this file")
    p.add_argument("--profile", metavar="NAME", help="cProfile one contender's fwd+bwd: triton, cupy, spikingjelly")
    args = p.parse_args(argv)
    results = run(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
