"""sj.quantize against SpikingJelly 2.0.0's activation_based.quantize: values and straight-through gradients, on
inputs that include the ties and window edges; plus the bad arguments SJ accepts silently."""

from __future__ import annotations

import pytest
import torch
from layers_parity_common import run_parity, sj2

from sj import quantize

Q = sj2("quantize")


def _x():
    x = torch.randn(40, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    edges = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 0.25, 0.75], dtype=torch.float64)
    return torch.cat((x, edges))


CASES = {
    "round": (), "ceil": (), "floor": (), "clamp": (-0.5, 2.0), "step_quantize": (0.5,),
    "multi_level_spike_count": (2,), "k_bit_quantize": (3,), "clamp_by_linear": (),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients(name):
    args = CASES[name]
    x = _x().sigmoid() if name == "k_bit_quantize" else _x()
    run_parity(lambda v: getattr(quantize, name)(v, *args), lambda v: getattr(Q, name)(v, *args), [x], atol=0.0)


def test_windowed_and_affine():
    x = _x()
    run_parity(lambda v: quantize.multi_level_spike_count(v, 3, (0.5, 2.5)),
               lambda v: Q.multi_level_spike_count(v, 3, (0.5, 2.5)), [x], atol=0.0)
    w, b = torch.tensor(1.5, dtype=torch.float64), torch.tensor(-0.25, dtype=torch.float64)
    run_parity(lambda v, w, b: quantize.affine_k_bit_quantize(v, 2, w, b),
               lambda v, w, b: Q.affine_k_bit_quantize(v, 2, w, b), [x.sigmoid(), w, b])
    run_parity(lambda v: quantize.clamp_by_linear(v, 1e-3), lambda v: Q.clamp_by_linear(v, 1e-3), [x])


@pytest.mark.parametrize("call,match", [
    (lambda x: quantize.step_quantize(x, 0.0), "positive"),  # SJ divides by zero: NaN
    (lambda x: quantize.k_bit_quantize(x, 0), "k must be"),
    (lambda x: quantize.k_bit_quantize(x, 2.5), "k must be"),  # SJ: TypeError from a shift
    (lambda x: quantize.clamp(x, 1.0, 0.0), "min_value"),
    (lambda x: quantize.multi_level_spike_count(x, -1), "max_spike_count"),
    (lambda x: quantize.multi_level_spike_count(x, 2, (2.0, 1.0)), "grad_window"),
    (lambda x: quantize.round(x.long()), "floating-point"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(torch.ones(3))
