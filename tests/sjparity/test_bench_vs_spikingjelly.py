"""Smoke test of benchmarks/bench_vs_spikingjelly.py on a tiny net: both tables print every variant with a ratio
(timings are the benchmark's business, not a test's)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spikingjelly", reason="SpikingJelly 2.0.0 is not installed (pip install --no-deps "
                    "spikingjelly==2.0.0)")
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "bench_vs_spikingjelly.py"


def test_both_tables_print_every_variant():
    out = subprocess.run([sys.executable, str(SCRIPT), "--channels", "2", "--batch", "2", "--T", "2", "--rounds",
                          "1"], capture_output=True, text=True, timeout=300, check=True).stdout
    step = re.findall(r"^  (.+?)\s+[\d.]+ ms\s+([\d.]+)x SpikingJelly$", out, re.M)
    assert [name for name, _ in step] == ["SpikingJelly 2.0", "sj, no backend named", "sj, backend='torch'",
                                          "sj, backend='cpu'"]
    assert step[0][1] == "1.00" and all(float(r) > 0 for _, r in step)
    layer = re.findall(r"^  (.+?)\s+forward\s+[\d.]+ ms \(([\d.]+)x\)\s+backward\s+[\d.]+ ms \(([\d.]+)x", out, re.M)
    assert [name for name, *_ in layer] == ["SpikingJelly 2.0", "sj, backend='torch'", "sj, backend='cpu'"]
    assert layer[0][1:] == ("1.00", "1.00")
