"""The sj.testing conformance suite on the cpu backend (prebuilt kernels, and run-time compiled ones for the
multi-state built-ins and the kit's custom neuron)."""

import pytest

from sj.testing import check_case, conformance_cases


@pytest.mark.parametrize("case", conformance_cases(), ids=str)
def test_conformance(case):
    check_case("cpu", case, device="cpu")


# tau = 3: 1/tau is inexact, so the kernels' multiplication by the hoisted reciprocal (sj.cpu.codegen._Hoister)
# rounds differently from the reference's division; the suite's tolerances must still hold (the default cases use
# tau = 2, whose reciprocal is exact).
INEXACT = conformance_cases(neurons=["lif", "qif", "eif", "klif"], surrogates=["ATan", "Sigmoid"],
                            param_values={"tau": 3.0})


@pytest.mark.parametrize("case", INEXACT, ids=str)
def test_conformance_with_an_inexact_reciprocal(case):
    check_case("cpu", case, device="cpu")
