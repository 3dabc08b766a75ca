"""What a new sj-cpu user waits for: building the wheel, and the first call of a configuration.

    python benchmarks/bench_cpu_install.py [--skip-wheel] [--neuron eif] [--repeat 3]

1. ``pip wheel --no-deps packages/sj-cpu`` (isolated build: the hot-set kernels compile): wall time and the size of
   the kernel library in the wheel.
2. First calls, each in a fresh process with torch already imported, timing ``import sj`` plus one forward and
   backward of a multi-step neuron on the ``cpu`` backend (``[T=8, 64, 100]``):
   - a hot configuration (LIF / ATan / float32, prebuilt);
   - a configuration outside the hot set (``--neuron`` / Sigmoid / float64) with an empty kernel cache: its kernel
     variants compile on first use;
   - the same again in a second process (the cache now holds them).
   Each is the median of ``--repeat`` runs (a fresh cache for every cold run).
Targets (issue: sj-cpu installs in about a minute): wheel ≤ 120 s, library ≤ 8 MB, hot first call < 0.3 s, cold
≤ 3 s, cached ≤ 0.5 s. The first calls use the installed sj-cpu (its prebuilt library must be there).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_CALL = """
import sys, time, torch
t0 = time.perf_counter()
from sj import neuron, surrogate
dtype = getattr(torch, sys.argv[3])
cls = {"lif": neuron.LIFNode, "eif": neuron.EIFNode, "qif": neuron.QIFNode, "klif": neuron.KLIFNode}[sys.argv[1]]
sg = getattr(surrogate, sys.argv[2])()
n = cls(step_mode="m", backend="cpu", surrogate_function=sg).to(dtype)
x = torch.rand(8, 64, 100, dtype=dtype, requires_grad=True)
n(x).sum().backward()
print(time.perf_counter() - t0)
"""


def first_call(neuron: str, surrogate: str, dtype: str, cache: Path) -> float:
    env = {"SJ_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin", "HOME": str(cache.parent)}
    res = subprocess.run([sys.executable, "-c", FIRST_CALL, neuron, surrogate, dtype], capture_output=True, text=True,
                         env=env, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def wheel() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out,
                        str(ROOT / "packages" / "sj-cpu")], check=True)
        seconds = time.perf_counter() - t0
        with zipfile.ZipFile(next(Path(out).glob("*.whl"))) as z:
            size = max((i.file_size for i in z.infolist() if "/_lib/libsjcpu" in i.filename), default=0)
    return seconds, size / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-wheel", action="store_true")
    ap.add_argument("--neuron", default="eif", help="the neuron of the cold configuration (eif, qif, klif, lif)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not args.skip_wheel:
        seconds, mb = wheel()
        print(f"pip wheel packages/sj-cpu: {seconds:.0f} s (target <= 120 s); kernel library {mb:.1f} MB (<= 8 MB)")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        hot, cold, cached = [], [], []
        for k in range(args.repeat):
            cache = base / f"cache{k}"
            hot.append(first_call("lif", "ATan", "float32", cache))
            cold.append(first_call(args.neuron, "Sigmoid", "float64", cache))
            cached.append(first_call(args.neuron, "Sigmoid", "float64", cache))
    print(f"first call, hot (lif/ATan/float32, prebuilt): {statistics.median(hot):.2f} s (target < 0.3 s)")
    print(f"first call, {args.neuron}/Sigmoid/float64, empty cache: {statistics.median(cold):.2f} s (target <= 3 s)")
    print(f"first call, {args.neuron}/Sigmoid/float64, cached: {statistics.median(cached):.2f} s (target <= 0.5 s)")
    print(f"  runs: hot {[round(t, 2) for t in hot]}, cold {[round(t, 2) for t in cold]}, "
          f"cached {[round(t, 2) for t in cached]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
