"""sj.testing's conformance suite on the triton backend: every neuron (built-in and custom) × every surrogate ×
reset/detach/store_v_seq × dtypes × odd shapes (T = 1, odd N, strided inputs and upstream gradients)."""

from __future__ import annotations

import _triton_env  # noqa: F401 - sets TRITON_INTERPRET=1 when there is no GPU
import pytest
import torch
from _triton_env import DEVICE, DISCONTINUOUS_SURROGATES, ON_GPU

from sj.testing import check_case, conformance_cases

FULL = conformance_cases()  # float32 and float64
HALF = conformance_cases(dtypes=(torch.float16,))
BF16 = [c for c in conformance_cases(dtypes=(torch.bfloat16,)) if c.surrogate not in DISCONTINUOUS_SURROGATES]
if not ON_GPU:  # the interpreter is slow: every neuron and surrogate still appears in the half-precision thirds
    HALF, BF16 = HALF[::3], BF16[1::3]


@pytest.mark.parametrize("case", FULL, ids=str)
def test_conformance(case):
    check_case("triton", case, device=DEVICE)


@pytest.mark.parametrize("case", HALF + BF16, ids=str)
def test_conformance_half(case):
    check_case("triton", case, device=DEVICE)


def test_suite_covers_the_issue():
    shapes = {c.shape for c in FULL}
    assert any(s[0] == 1 for s in shapes), "T = 1"
    assert any(s[-1] % 2 == 1 for s in shapes), "odd N"
    assert any(c.noncontiguous for c in FULL) and any(c.per_neuron for c in FULL)
    assert {c.neuron for c in FULL} >= {"if_", "lif", "lif_nodecay", "plif", "qif", "eif", "izhikevich",
                                        "cuba_lif", "sj_testing_tanh_lif"}
    assert len({c.surrogate for c in FULL}) == 14
    assert {c.neuron for c in HALF + BF16} == {c.neuron for c in FULL}
