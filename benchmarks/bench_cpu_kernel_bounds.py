"""What the simplest fused kernels reach on this machine, next to the ``cpu`` backend's LIF forward: ratios to the
floor in one run.

The issue's forward target (≤ 1.5× the floor ``torch.add(x, 1, out=y)``) is missed at shapes whose data sit in the
last-level cache (``[4, 2^18]``, ``[16, 2^18]``, ``2^14``). This script asks how far below that any fused kernel of
this shape of work gets here. It compiles, with the flags run-time kernels get (``sj.cpu.compiler``,
``-march=native``), five hand-written OpenMP kernels over the same ``[T, N]`` data, the first four cut into column
chunks that run the whole time loop, as the generated kernels are:

- ``add``: ``y = x + 1`` in one flat loop — the floor written in C;
- ``add, chunked``: the same pass in the kernels' order (a chunk of columns through every step);
- ``state``: ``s = x + v; v = v + 1`` — one state read and written per step, no arithmetic to speak of;
- ``LIF``: a minimal hard-reset LIF forward (τ = 2, threshold 1);
- ``LIF, blocks of 64``: the same LIF in another order — blocks of 64 columns, each through every step with its
  state in a local array; it must give ``LIF``'s spikes (checked);

and times the ``cpu`` backend's LIF forward (no H saved, the kernel called directly) on the same data. Each figure
is the median of repeated calls divided by the floor's median. Run: ``python benchmarks/bench_cpu_kernel_bounds.py
[--shape T,LOG2N ...] [--threads 2] [--chunk 4096]`` (about 20 s).
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import tempfile
import time
from pathlib import Path

import torch

import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
from sj.backends.registry import get_backend
from sj.cpu import compiler
from sj.ops import MultiStepSpec

SHAPES = ((4, 18), (16, 18), (64, 14), (4, 20), (64, 20))

# One chunked loop, parameterised by its body: the kernels differ only in what they do per element and step.
_CHUNKED = """
void %(name)s(const float *x, float *s, const float *v0, float *v1, int64_t T, int64_t N, int64_t chunk,
              int threads) {
    const int64_t chunks = (N + chunk - 1) / chunk;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const int64_t i0 = c * chunk, n = N - i0 < chunk ? N - i0 : chunk;
        for (int64_t t = 0; t < T; ++t) {
            const float *restrict xt = x + t * N + i0;
            float *restrict st = s + t * N + i0;
            const float *pv = (t ? v1 : v0) + i0;
            float *nv = v1 + i0;
            (void)pv; (void)nv;
            #pragma omp simd
            for (int64_t j = 0; j < n; ++j) { %(body)s }
        }
    }
}
"""
# The same LIF body in another order: blocks of BLOCK columns, each through every step with its states in a local
# array (registers or L1) — the order a register-blocked kernel would use. N must be a multiple of BLOCK.
BLOCK = 64
_BLOCKED = """
void %(name)s(const float *x, float *s, const float *v0, float *v1, int64_t T, int64_t N, int64_t chunk,
              int threads) {
    (void)chunk;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i0 = 0; i0 < N; i0 += %(block)d) {
        float vb[%(block)d];
        const float *pv = vb;
        float *nv = vb;
        for (int j = 0; j < %(block)d; ++j) vb[j] = v0[i0 + j];
        for (int64_t t = 0; t < T; ++t) {
            const float *restrict xt = x + t * N + i0;
            float *restrict st = s + t * N + i0;
            #pragma omp simd
            for (int j = 0; j < %(block)d; ++j) { %(body)s }
        }
        for (int j = 0; j < %(block)d; ++j) v1[i0 + j] = vb[j];
    }
}
"""
BODIES = {
    "add, chunked": "st[j] = xt[j] + 1.0f;",
    "state": "const float v = pv[j]; st[j] = xt[j] + v; nv[j] = v + 1.0f;",
    "LIF": ("const float v = pv[j]; const float h = v + (xt[j] - v) * 0.5f; const float z = h >= 1.0f ? 1.0f : 0.0f;"
            " st[j] = z; nv[j] = h * (1.0f - z);"),
}
BLOCKED = f"LIF, blocks of {BLOCK}"
_FLAT = """
void flat_add(const float *x, float *s, const float *v0, float *v1, int64_t T, int64_t N, int64_t chunk, int threads) {
    (void)v0; (void)v1; (void)chunk;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < T * N; ++i) s[i] = x[i] + 1.0f;
}
"""


def build(work: Path) -> dict[str, ctypes._CFuncPtr]:
    names = {"add": "flat_add"} | {label: f"k{i}" for i, label in enumerate(BODIES)} | {BLOCKED: "lif_blocked"}
    source = ("#include <stdint.h>\n" + _FLAT
              + "".join(_CHUNKED % {"name": names[label], "body": body} for label, body in BODIES.items())
              + _BLOCKED % {"name": names[BLOCKED], "body": BODIES["LIF"], "block": BLOCK})
    (work / "bounds.c").write_text(source)
    compiler.compile_objects([work / "bounds.c"], work / "bounds.so", march="native")
    lib = ctypes.CDLL(str(work / "bounds.so"))
    fns = {}
    for label, symbol in names.items():
        fn = getattr(lib, symbol)
        fn.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 3 + [ctypes.c_int]
        fn.restype = None
        fns[label] = fn
    return fns


def median_seconds(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(fns: dict, T: int, log2n: int, chunk: int, threads: int) -> list[str]:
    N = 1 << log2n
    reps = max(20, min(400, (1 << 24) // (T * N)))
    x = torch.rand(T, N) * 1.5
    y, s = torch.empty_like(x), torch.empty_like(x)
    v0, v1 = torch.zeros(N), torch.empty(N)
    floor = median_seconds(lambda: torch.add(x, 1, out=y), reps)
    args = [t.data_ptr() for t in (x, s, v0, v1)] + [T, N, chunk, threads]
    cells, spikes = [], {}
    for label, fn in fns.items():
        cells.append(f"{median_seconds(lambda f=fn: f(*args), reps) / floor:.2f}")
        if label in ("LIF", BLOCKED):
            spikes[label] = s.clone()
    if not torch.equal(spikes["LIF"], spikes[BLOCKED]):  # one LIF in two orders: the same spikes
        raise RuntimeError(f"{BLOCKED!r} and 'LIF' disagree at T={T}, N=2^{log2n}")
    be = get_backend("cpu")
    spec = MultiStepSpec("lif", "ATan", (2.0,), False, False, False)
    params = [torch.tensor(1.0), torch.tensor(0.0), torch.tensor(2.0)]
    cells.append(f"{median_seconds(lambda: be.forward(spec, x, [v0], params, False), reps) / floor:.2f}")
    return [str(T), f"2^{log2n}", *cells]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", action="append", help="T,LOG2N (repeatable; default: a grid of five shapes)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chunk", type=int, default=4096, help="columns per chunk of the hand-written kernels")
    a = p.parse_args()
    shapes = [tuple(int(v) for v in s.split(",")) for s in a.shape] if a.shape else SHAPES
    for T, log2n in shapes:
        if (1 << log2n) % BLOCK:
            p.error(f"--shape {T},{log2n}: N = 2^{log2n} is not a multiple of the block ({BLOCK} columns)")
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        fns = build(Path(tmp))
        labels = [*fns, "cpu backend LIF"]
        print(f"# time / floor (torch.add(x, 1, out=y)), medians; {a.threads} threads, float32, chunk {a.chunk}")
        print("| T | N | " + " | ".join(labels) + " |\n|" + "---|" * (len(labels) + 2))
        for T, log2n in shapes:
            print("| " + " | ".join(row(fns, T, log2n, a.chunk, a.threads)) + " |")


if __name__ == "__main__":
    main()
