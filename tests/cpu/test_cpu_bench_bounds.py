"""benchmarks/bench_cpu_kernel_bounds.py runs: it compiles its reference kernels and prints one row of ratios per
shape (a smoke test on a tiny shape; the figures themselves are the benchmark's business)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sj.cpu import compiler

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cpu_kernel_bounds.py"


@pytest.mark.skipif(compiler.find_compiler() is None, reason="no C compiler")
def test_bounds_benchmark_prints_a_row_per_shape():
    res = subprocess.run([sys.executable, str(SCRIPT), "--shape", "2,10", "--shape", "3,11", "--threads", "1"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [line for line in res.stdout.splitlines() if re.match(r"\| \d+ \| 2\^\d+ \|", line)]
    assert [r.split("|")[1:3] for r in rows] == [[" 2 ", " 2^10 "], [" 3 ", " 2^11 "]]
    for r in rows:
        cells = [c.strip() for c in r.strip("|").split("|")][2:]
        assert len(cells) == 6 and all(float(c) > 0 for c in cells)


def test_bounds_benchmark_refuses_a_width_the_blocks_do_not_divide():
    res = subprocess.run([sys.executable, str(SCRIPT), "--shape", "2,5"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "N = 2^5 is not a multiple of the block (64 columns)" in res.stderr
