"""Session-wide test setup.

Without a GPU, sj-triton's kernels run under Triton's interpreter. Triton reads ``TRITON_INTERPRET`` when a function
is decorated, so it must be set before any test (or plug-in status check) imports sj-triton: here, first of all.

Every test run gets one fresh sj cache (``SJ_CACHE_DIR``) shared by all its tests and, under pytest-xdist, by all its
workers: a kernel compiled on first use (sj-cpu's configurations outside the prebuilt hot set, derived programs of
user declarations, generated Triton modules) is compiled once per run, not once per test, and nothing from an
earlier run or from the developer's own cache is trusted. ``SJ_TEST_CACHE_DIR`` names a directory to use instead
(kept between runs: faster reruns on a development machine).

Kernels compiled at run time are built with warnings as errors (``SJ_CPU_WERROR=1``), and the cpu backend's
"falling back to the torch reference" warning is an error (tests of the fallback expect it explicitly): a kernel that
does not build fails its test instead of passing on the reference.
"""

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
# Every kernel the suite compiles at run time is built with warnings as errors (sj.cpu.compiler.WERROR_ENV), and a
# refused build must fail the test, not fall back quietly to the reference (see pytest_configure).
os.environ["SJ_CPU_WERROR"] = "1"

_OWN_CACHE: Path | None = None


def pytest_configure(config) -> None:
    global _OWN_CACHE
    config.addinivalue_line("filterwarnings", "error:sj cpu backend. falling back:RuntimeWarning")
    if os.environ.get("SJ_TEST_CACHE_DIR"):
        os.environ["SJ_CACHE_DIR"] = os.environ["SJ_TEST_CACHE_DIR"]
    elif getattr(config, "workerinput", None) is None:  # not an xdist worker: workers inherit this environment
        uid = os.getuid() if hasattr(os, "getuid") else 0
        _OWN_CACHE = Path(tempfile.gettempdir()) / f"sj-test-cache-{uid}-{uuid.uuid4().hex}"
        os.environ["SJ_CACHE_DIR"] = str(_OWN_CACHE)


def pytest_unconfigure(config) -> None:
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture
def blas_bound():
    """``blas_bound(layer, input_bound)``: how far two evaluations of a Linear/Conv ``layer`` on the same input may
    differ when BLAS splits the work differently (T GEMMs of ``[N, K]`` in ``'s'`` mode against one of ``[T·N, K]`` in
    ``'m'`` mode, another batch size): each output is a bias plus K products, and every order of summing them (with
    or without fused multiply-adds) is within γ_{K+1}·Σ|terms| of the exact sum (γ_n = n·u/(1 − n·u), u = eps/2;
    Higham, Accuracy and Stability of Numerical Algorithms, §3.1). Two orders are then within 2·γ_{K+1}·Σ|terms|,
    bounded here by 2·(K+1)·eps·Σ|terms| (a factor 2 of margin), with Σ|terms| ≤ max over outputs of
    Σ|w|·input_bound + |b| (``input_bound`` ≥ every |input|; 1 for spikes)."""

    def bound(layer: torch.nn.Module, input_bound: float) -> float:
        w = layer.weight.detach().abs().flatten(1)
        b = layer.bias.detach().abs() if layer.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
        terms = float((w.sum(1) * input_bound + b).max())
        return 2 * (w.shape[1] + 1) * torch.finfo(w.dtype).eps * terms

    return bound


# The table of sjparity/test_sj_pieces.py: how many of SpikingJelly 2.0.0's tutorial/example pieces run on SJ, run on
# sj with import-only changes, and give the same numbers; printed at the end of any session that ran them. Each
# piece's outcome travels in its report's ``user_properties``, so the xdist controller has them; the hook lives here
# because the controller collects nothing and so never loads tests/sjparity's own conftest.
def pytest_terminal_summary(terminalreporter) -> None:
    outcomes = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) == "call":
                for name, value in getattr(report, "user_properties", ()):
                    if name == "sj_piece":
                        outcomes[value["piece"]] = value
    if not outcomes:
        return
    ran = [o for o in outcomes.values() if o["sj2"]]
    on_sj = [o for o in ran if o["sj"]]
    equal = [o for o in on_sj if o["equal"]]
    write = terminalreporter.write_line
    terminalreporter.section("SpikingJelly 2.0.0 pieces on sj (import paths replaced, nothing else)")
    write(f"{'piece':48} {'SJ':>3} {'sj':>3} {'equal':>5} {'max |diff|*':>12} {'s':>6}")
    for o in sorted(outcomes.values(), key=lambda o: o["piece"]):
        diff = "" if o["max_diff"] is None else f"{o['max_diff']:.3g}"
        secs = "" if o["seconds"] is None else f"{o['seconds']:.2f}"
        write(f"{o['piece']:48} {'yes' if o['sj2'] else 'no':>3} {'yes' if o['sj'] else 'no':>3} "
              f"{'yes' if o['equal'] else 'no':>5} {diff:>12} {secs:>6}")

    def share(part: list, whole: list) -> str:
        return f"{len(part)}/{len(whole)} ({100 * len(part) / len(whole):.0f} %)" if whole else "0/0"

    write(f"run on SJ 2.0.0: {len(ran)}; run on sj: {share(on_sj, ran)}; equal numbers (max |diff|* ≤ 1e-5): "
          f"{share(equal, ran)}")
    write("* over every number a piece reports; each tensor's |sj − SJ| divided by max(1, its largest |SJ value|)")
