"""Each backward kernel variant (no parameter gradient, the neuron's own parameters, all parameters) gives the torch
reference's gradients for whichever parameters are asked, scalar or per neuron: the kernel picks the variant from the
requested gradients, so every combination must land on one that computes them."""

import pytest
import torch

from sj.ops import multistep

VALUES = {"lif": [1.0, -0.1, 2.0], "plif": [1.0, -0.1, 0.3], "eif": [1.0, -0.1, 2.0, 0.5, 0.8, 0.0]}


def _grads(backend: str, neuron: str, x: torch.Tensor, wanted: tuple[int, ...], per_neuron: bool):
    n = x.shape[1]
    params = [torch.full((n,) if per_neuron else (), v, dtype=x.dtype).requires_grad_(k in wanted)
              for k, v in enumerate(VALUES[neuron])]
    xg = x.clone().requires_grad_()
    spike, (last,), _ = multistep(neuron, xg, [torch.zeros(n, dtype=x.dtype)], params, surrogate="ATan",
                                  surrogate_params=[2.0], backend=backend)
    g = torch.linspace(-1, 1, spike.numel(), dtype=x.dtype).reshape(spike.shape)
    return torch.autograd.grad((spike * g).sum() + last.sum(), [xg] + [params[k] for k in wanted])


@pytest.mark.parametrize("neuron", sorted(VALUES))
@pytest.mark.parametrize("wanted", [(), (2,), (0,), (1,), (0, 2), (1, 2), (0, 1, 2)], ids=str)
@pytest.mark.parametrize("per_neuron", [False, True], ids=["scalar", "per_neuron"])
def test_requested_parameter_gradients_match_the_reference(neuron, wanted, per_neuron):
    gen = torch.Generator().manual_seed(len(wanted) * 7 + per_neuron)
    x = torch.rand(6, 37, dtype=torch.float64, generator=gen) * 1.5
    got = _grads("cpu", neuron, x, wanted, per_neuron)
    expected = _grads("torch", neuron, x, wanted, per_neuron)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
