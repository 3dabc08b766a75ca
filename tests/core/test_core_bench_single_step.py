"""Smoke test of benchmarks/bench_core_single_step.py: it runs and prints a ratio for every row (timings are the
benchmark's business, not a test's)."""

import importlib.util
import re
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "bench_core_single_step.py"


def test_single_step_benchmark_prints_every_row(capsys):
    spec = importlib.util.spec_from_file_location("bench_core_single_step", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--number", "3", "--repeat", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\| (Sigmoid|ATan) \|", line)]
    assert len(rows) == 4
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] in ("yes", "no_grad")
        assert all(float(c) > 0 for c in cells[2:5]), row
