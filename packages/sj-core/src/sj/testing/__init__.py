"""Conformance kit for backend authors: prove a backend matches the ``torch`` reference.

Usage in a backend package's tests::

    import pytest
    from sj.testing import check_case, conformance_cases

    @pytest.mark.parametrize("case", conformance_cases(), ids=str)
    def test_conformance(case):
        check_case("mybackend", case, device="cpu")

Every case runs the multi-step op on the backend under test (in the case's dtype, on ``device``) and on the ``torch``
reference (float64, CPU, from the same rounded inputs) and compares spikes, voltages, last states, and the gradients
of the input, the initial states and every parameter (all parameters require grad), within
:data:`TOLERANCES` for the dtype. A backend saving H in 16 bits checks the cases where :func:`gradient_may_jump` holds
with ``gradients=False`` (see there why).
"""

from sj.testing.cases import (
    CUSTOM_NEURON,
    HALF_DTYPES,
    JUMP_NEURONS,
    JUMP_SURROGATES,
    ConformanceCase,
    conformance_cases,
    gradient_may_jump,
)
from sj.testing.check import TOLERANCES, Tolerance, check_case

__all__ = ["CUSTOM_NEURON", "HALF_DTYPES", "JUMP_NEURONS", "JUMP_SURROGATES", "TOLERANCES", "ConformanceCase",
           "Tolerance", "check_case", "conformance_cases", "gradient_may_jump"]
