"""SpikingJelly 2.0.0's own code, run unchanged on sj: the README's "migrating code mostly runs unchanged", checked.

Each file in ``pieces/`` is a short excerpt of SpikingJelly's tutorials (its repository's ``docs/source/tutorials``),
example scripts and model-zoo code (``activation_based/examples``, ``ann2snn/examples`` of its wheel) or a docstring
example, shrunk to CPU-seconds (fewer channels, steps, samples; synthetic data instead of downloads) with the same code
structure. A piece ends by binding ``result``: the numbers it produced (outputs, gradients, trained weights, ...).
Names say the source: ``tut_<tutorial>_*``, ``ex_<example script>_*``, ``doc_<module>_*``. Where SJ 2.0.0 itself fails
on the published text (an outdated signature or name), the piece makes the smallest change that runs on SJ and says
so in its docstring. No piece needs CUDA: SJ 2.0.0's neurons take no ``backend`` argument, so its cupy/triton tutorial
code does not run on SJ 2.0.0 itself.

Every piece runs twice in this process under the same seed: as written, on SpikingJelly 2.0.0, and with its import
paths replaced (``spikingjelly.activation_based`` → ``sj``, ``spikingjelly.datasets`` → ``sj.datasets``,
``spikingjelly.visualizing`` → ``sj.visualizing``) and nothing else, on sj. It passes when sj runs it and every number
agrees within ``ATOL``. Known gaps are ``xfail(strict=True)`` with the reason (``GAPS``): a fix turns them into failures
here, to be moved out of the list. The counts (pieces run on SJ, run on sj, equal) are printed as a table at the end of
the session (``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
PIECES = sorted((HERE / "pieces").glob("*.py"))
sys.path.insert(0, str(HERE))

from oracle import spikingjelly  # noqa: E402

# "Same numbers": max |SJ − sj| ≤ 1e-5 for every number a piece reports, relative to the largest |SJ value| of its
# tensor where that exceeds 1 (a float32 sum of magnitude 200, e.g. an STDP weight update, rounds in steps of 1.5e-5;
# two summation orders differ by a few of them).
ATOL = 1e-5
SEED = 2025

# The import paths a migration changes, nothing else.
IMPORT_PATHS = (
    (re.compile(r"\bspikingjelly\.activation_based\b"), "sj"),
    (re.compile(r"\bspikingjelly\.(datasets|visualizing)\b"), r"sj.\1"),
    (re.compile(r"\bfrom spikingjelly import (datasets|visualizing)\b"), r"from sj import \1"),
)

# piece → why sj does not run it or gives other numbers (xfail, strict: fixing it fails the test until it is removed).
GAPS: dict[str, str] = {
    # sj.neuron
    "tut_container_state_dict": "sj neurons add v_threshold/v_reset/_extra_state to state_dict (SJ 2.0 neurons have "
                                "no state_dict entries): the tutorial's key lists differ",
    # sj.op_counter
    "tut_op_counter_flops_memory": "inside a neuron, sj's MemoryAccessCounter counts what the fused step reads and "
                                   "writes, SJ 2.0's the temporaries of its Python ops (docs/migrating.md, "
                                   "op_counter and memopt): the memory totals differ by design",
}


def to_sj(source: str) -> str:
    """The piece with SpikingJelly's import paths replaced by sj's; any other use of ``spikingjelly`` is an error
    (a piece must migrate by its imports alone)."""
    for pattern, replacement in IMPORT_PATHS:
        source = pattern.sub(replacement, source)
    left = re.search(r"\bspikingjelly\b.*", source)
    if left:
        raise ValueError(f"not an import-only migration: {left.group(0)!r}")
    return source


def _seed() -> None:
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    random.seed(SEED)


def run_piece(path: Path, source: str, workdir: Path) -> dict[str, Any]:
    """Execute ``source`` (the piece, as SJ or sj code) from a fresh seed in ``workdir``; its ``result``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    workdir.mkdir(parents=True, exist_ok=True)
    namespace: dict[str, Any] = {"__name__": f"sjpiece_{path.stem}", "__file__": str(path)}
    cwd = Path.cwd()
    grad_enabled = torch.is_grad_enabled()
    _seed()
    try:
        os.chdir(workdir)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-interactive.*")  # plt.show() under Agg
            exec(compile(source, str(path), "exec"), namespace)
    finally:
        os.chdir(cwd)
        torch.set_grad_enabled(grad_enabled)
        plt.close("all")
    if "result" not in namespace:
        raise AssertionError(f"{path.name} binds no `result`")
    return namespace["result"]


def compare(ours: Any, theirs: Any, where: str = "result") -> tuple[float, list[str]]:
    """Largest |difference| over every number of two results (each tensor's divided by max(1, its largest |SJ value|))
    and what cannot be compared numerically (structure, shapes, strings, types)."""
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return math.inf, [f"{where}: {type(ours).__name__} instead of a dict"]
        problems = [f"{where}: keys only in SJ {sorted(map(str, set(theirs) - set(ours)))}, only in sj "
                    f"{sorted(map(str, set(ours) - set(theirs)))}"] if set(ours) != set(theirs) else []
        worst = 0.0
        for key in theirs.keys() & ours.keys():
            d, p = compare(ours[key], theirs[key], f"{where}[{key!r}]")
            worst, problems = max(worst, d), problems + p
        return worst, problems
    if isinstance(theirs, (list, tuple)):
        if not isinstance(ours, (list, tuple)) or len(ours) != len(theirs):
            return math.inf, [f"{where}: {_describe(ours)} instead of {_describe(theirs)}"]
        worst, problems = 0.0, []
        for i, (a, b) in enumerate(zip(ours, theirs)):
            d, p = compare(a, b, f"{where}[{i}]")
            worst, problems = max(worst, d), problems + p
        return worst, problems
    if theirs is None or isinstance(theirs, (str, torch.dtype, torch.device)):
        return (0.0, []) if ours == theirs else (math.inf, [f"{where}: {ours!r} instead of {theirs!r}"])
    if isinstance(theirs, (torch.Tensor, np.ndarray, int, float, np.number, np.bool_)):
        if not isinstance(ours, (torch.Tensor, np.ndarray, int, float, np.number, np.bool_)):
            return math.inf, [f"{where}: {type(ours).__name__} instead of a number"]
        a, b = _as_double(ours), _as_double(theirs)
        if a.shape != b.shape:
            return math.inf, [f"{where}: shape {tuple(a.shape)} instead of {tuple(b.shape)}"]
        if not torch.equal(a.isnan(), b.isnan()):
            return math.inf, [f"{where}: NaN at other places"]
        a, b = a[~b.isnan()], b[~b.isnan()]
        infinite = a.isinf() | b.isinf()
        if not torch.equal(a[infinite], b[infinite]):
            return math.inf, [f"{where}: infinities at other places"]
        a, b = a[~infinite], b[~infinite]
        if not b.numel():
            return 0.0, []
        return float((a - b).abs().max()) / max(1.0, float(b.abs().max())), []
    return math.inf, [f"{where}: cannot compare a {type(theirs).__name__}"]


def _as_double(x: Any) -> torch.Tensor:
    return x.detach().cpu().double() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x)).double()


def _describe(x: Any) -> str:
    return f"{type(x).__name__} of {len(x)}" if isinstance(x, (list, tuple)) else type(x).__name__


def _param(path: Path):
    marks = []
    if path.stem in GAPS:
        marks.append(pytest.mark.xfail(strict=True, reason=GAPS[path.stem]))
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_param(p) for p in PIECES])
def test_piece_runs_unchanged_on_sj(path: Path, tmp_path: Path, record_property) -> None:
    spikingjelly("activation_based")  # skips with the reason where SpikingJelly 2.0.0 is absent
    source = path.read_text()
    sj_source = to_sj(source)
    outcome = {"piece": path.stem, "sj2": False, "sj": False, "equal": False, "max_diff": None, "seconds": None}
    record_property("sj_piece", outcome)
    start = time.perf_counter()
    theirs = run_piece(path, source, tmp_path / "spikingjelly")  # a piece that fails on SJ is a broken piece
    outcome["sj2"] = True
    try:
        ours = run_piece(path, sj_source, tmp_path / "sj")
    except Exception as exc:
        raise AssertionError(f"does not run on sj: {type(exc).__name__}: {exc}") from exc
    finally:
        outcome["seconds"] = round(time.perf_counter() - start, 3)
    outcome["sj"] = True
    worst, problems = compare(ours, theirs)
    outcome["max_diff"] = worst
    outcome["equal"] = not problems and worst <= ATOL
    assert not problems, "\n".join(problems)
    assert worst <= ATOL, f"max |sj − SJ| / max(1, |SJ|) = {worst:g} > {ATOL:g}"


# ---- the harness itself ----------------------------------------------------------------------------------------------

def test_only_import_paths_are_rewritten():
    src = ("from spikingjelly.activation_based import neuron\nimport spikingjelly.activation_based.layer as L\n"
           "from spikingjelly.datasets.utils import pad_sequence_collate\nfrom spikingjelly import visualizing\n")
    assert to_sj(src) == ("from sj import neuron\nimport sj.layer as L\n"
                          "from sj.datasets.utils import pad_sequence_collate\nfrom sj import visualizing\n")
    with pytest.raises(ValueError, match="not an import-only migration"):
        to_sj("from spikingjelly.timing_based import neuron")


@pytest.mark.parametrize("ours, theirs, problem", [
    ({"a": torch.ones(2)}, {"a": torch.ones(3)}, "shape"),
    ({"a": 1.0}, {"b": 1.0}, "keys only in SJ"),
    ([1.0], [1.0, 2.0], "list of 1 instead of list of 2"),
    (torch.tensor([float("nan"), 1.0]), torch.tensor([1.0, 1.0]), "NaN"),
    (torch.tensor([float("inf")]), torch.tensor([1.0]), "infinities"),
    ("a", "b", "'a' instead of 'b'"),
    (None, 1.0, "instead of a number"),
])
def test_compare_reports_structural_differences(ours, theirs, problem):
    assert problem in " ".join(compare(ours, theirs)[1])


def test_compare_scales_differences_by_the_magnitude():
    assert compare(torch.tensor(200.002, dtype=torch.float64), 200.0)[0] == pytest.approx(1e-5)
    assert compare(np.array([0.502]), torch.tensor([0.5], dtype=torch.float64))[0] == pytest.approx(2e-3)
    assert compare({"w": [np.float32(1.0), torch.zeros(0)]}, {"w": [1.0, torch.zeros(0)]}) == (0.0, [])
