"""The sj.testing conformance suite on the cpu backend (prebuilt kernels, and run-time compiled ones for the
multi-state built-ins and the kit's custom neuron)."""

import pytest

from sj.testing import check_case, conformance_cases


@pytest.mark.parametrize("case", conformance_cases(), ids=str)
def test_conformance(case):
    check_case("cpu", case, device="cpu")
