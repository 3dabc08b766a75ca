"""Parameter gradients through the charge are reduced once ``x`` is written through ``h`` (sj.neuron.derive):
fewer operations per step, and no overflow where the unreduced form divides two infinities."""

import pytest
import sympy as sp
import torch

from sj.neuron.derive import _charge_derivative, _eliminate_x
from sj.ops import multistep

x, v, h, v_reset, w, tau = sp.symbols("x v h v_reset w tau", real=True)
SYM = {"x": x, "v": v, "h": h}


@pytest.mark.parametrize("charge, wrt, expected", [
    (v + (x - (v - v_reset)) / (1 + sp.exp(-w)), w, (h - v) / (sp.exp(w) + 1)),  # PLIF
    (v + (x - (v - v_reset)) / tau, tau, (v - h) / tau),  # LIF
])
def test_a_parameter_derivative_through_h_is_reduced(charge, wrt, expected):
    got = _charge_derivative(charge, wrt, x, _eliminate_x(charge, SYM))
    assert not got.has(x)
    assert sp.simplify(got - expected) == 0
    assert sp.count_ops(got) <= sp.count_ops(expected)


def test_a_derivative_that_does_not_read_x_is_left_as_derived():
    charge = v + (x - (v - v_reset)) / (1 + sp.exp(-w))
    assert _charge_derivative(charge, v, x, _eliminate_x(charge, SYM)) == sp.diff(charge, v)


@pytest.mark.parametrize("w_value", [-90.0, 0.0, 30.0])
def test_plif_w_gradient_stays_finite_in_float32_where_exp_overflows(w_value):
    """At w = -90, exp(-w) overflows float32; the unreduced gradient divided inf by inf (NaN). The reduced one
    matches float64."""
    torch.manual_seed(0)
    x64 = torch.rand(6, 50, dtype=torch.float64) * 2
    grads = {}
    for dtype in (torch.float32, torch.float64):
        w_param = torch.tensor(w_value, dtype=dtype, requires_grad=True)
        spike, _, _ = multistep("plif", x64.to(dtype), [torch.zeros(50, dtype=dtype)], [1.0, 0.0, w_param],
                                surrogate="Sigmoid")
        (spike * torch.linspace(0, 1, 50, dtype=dtype)).sum().backward()
        grads[dtype] = w_param.grad.double()
    assert torch.isfinite(grads[torch.float32])
    assert torch.allclose(grads[torch.float32], grads[torch.float64], rtol=1e-4, atol=1e-6)
