"""Start-up cost of sj-core: ``import sj.neuron`` over ``import torch``, and a neuron's first forward.

    python benchmarks/bench_core_startup.py [--repeats 5]

Each measurement runs in a fresh interpreter (median of ``--repeats``). Targets (spine issue): import adds < 0.3 s
over ``import torch``; the first multi-step forward+backward of a LIF layer adds < 0.2 s. Plug-ins are disabled
(SJ_DISABLE_PLUGINS=1) so only sj-core is measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

PROBE = """
import time
t0 = time.perf_counter(); import torch; t1 = time.perf_counter()
import sj.neuron; t2 = time.perf_counter()
x = torch.rand(8, 64, requires_grad=True)
n = sj.neuron.LIFNode(step_mode="m")
t3 = time.perf_counter(); n(x).sum().backward(); t4 = time.perf_counter()
n.reset()
t5 = time.perf_counter(); n(x).sum().backward(); t6 = time.perf_counter()
print(t1 - t0, t2 - t1, t4 - t3, t6 - t5)
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    env = {**os.environ, "SJ_DISABLE_PLUGINS": "1"}
    rows = []
    for _ in range(a.repeats):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
        rows.append([float(v) for v in out.stdout.split()])
    torch_s, sj_s, first, second = (statistics.median(c) for c in zip(*rows))
    print(f"import torch                     {torch_s:7.3f} s")
    print(f"import sj.neuron (added)         {sj_s:7.3f} s   ({sj_s / torch_s:.2f}x of import torch; target < 0.3 s)")
    print(f"first LIF forward+backward       {first:7.3f} s   (target < 0.2 s)")
    print(f"second LIF forward+backward      {second:7.3f} s   (first/second = {first / second:.0f}x)")


if __name__ == "__main__":
    main()
