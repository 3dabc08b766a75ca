"""sj-cupy's generated kernels computed on the CPU (tests/cupy/_emulation.py: the generated CUDA C compiled for the
host, launched through the real host path) against the ``torch`` reference: the sj.testing conformance check,
without a GPU.

The default run takes a covering sample: every memory path (16-byte vectors in each dtype, the scalar path for an odd
``N``), auxiliary states, per-neuron parameters, every reset mode, ``store_v_seq``, an unused last state and a
surrogate with parameters. ``SJ_CUPY_EMULATE=full`` runs the whole default conformance set (float16 to float64, a
few minutes).
"""

from __future__ import annotations

import os

import pytest
import torch

pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")

from _emulation import COMPILER, emulated_launches

from sj.testing import HALF_DTYPES, check_case, conformance_cases, gradient_may_jump

pytestmark = pytest.mark.skipif(COMPILER is None, reason="no host C++ compiler (g++) to build the emulated kernels")

ALL = conformance_cases(dtypes=(torch.float32, torch.float64)) + conformance_cases(dtypes=HALF_DTYPES)
SAMPLE = [ALL[i] for i in (0, 17, 41, 63, 100, 133, 170, 205, 240, 280, 331, 350, 402, 460, 541, 590)]
CASES = ALL if os.environ.get("SJ_CUPY_EMULATE") == "full" else SAMPLE


@pytest.fixture(scope="module")
def emulation(tmp_path_factory):
    cache = tmp_path_factory.mktemp("sj-cache")
    libraries = tmp_path_factory.mktemp("emulated-kernels")
    previous = os.environ.get("SJ_CACHE_DIR")
    os.environ["SJ_CACHE_DIR"] = str(cache)
    try:
        with emulated_launches(libraries):
            yield
    finally:
        if previous is None:
            os.environ.pop("SJ_CACHE_DIR")
        else:
            os.environ["SJ_CACHE_DIR"] = previous


def test_sample_covers_the_paths():
    dtypes = {c.dtype for c in SAMPLE}
    assert dtypes == {torch.float16, torch.bfloat16, torch.float32, torch.float64}
    assert any(c.shape[-1] % 2 for c in SAMPLE) and any(c.per_neuron for c in SAMPLE)
    assert any(c.neuron in ("izhikevich", "cuba_lif") for c in SAMPLE) and any(c.store_v_seq for c in SAMPLE)
    assert any(c.soft_reset for c in SAMPLE) and any(c.detach_reset for c in SAMPLE)
    assert any(c.unused_last for c in SAMPLE)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_conformance_emulated(emulation, case):
    check_case("cupy", case, device="cpu", gradients=not gradient_may_jump(case))
