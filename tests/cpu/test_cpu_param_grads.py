"""Each backward kernel variant (no parameter gradient, the neuron's own parameters, all parameters) gives the torch
reference's gradients for whichever parameters are asked, scalar or per neuron: the kernel picks the variant from the
requested gradients, so every combination must land on one that computes them."""

import pytest
import torch

from sj.backends.base import BackwardInputs
from sj.backends.registry import get_backend
from sj.ops import MultiStepSpec, multistep

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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("wanted", [(2,), (0, 1, 2)], ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_a_scalar_parameter_gradient_is_the_sum_over_every_neuron(dtype, wanted, threads):
    """The kernel sums a 0-d parameter's gradient over the neurons itself, one slot per chunk: over many chunks (N
    not a multiple of the chunk, several threads) it must equal the float64 sum of the per-neuron gradients the same
    kernel gives for a per-neuron parameter of the same value, and come out 0-d from the backend."""
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(3, 2**16 + 37, dtype=torch.float64, generator=gen) * 1.5).to(dtype)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        per_neuron = _grads("cpu", "plif", x, wanted, per_neuron=True)
        scalar = _grads("cpu", "plif", x, wanted, per_neuron=False)
        again = _grads("cpu", "plif", x, wanted, per_neuron=False)
    finally:
        torch.set_num_threads(previous)
    for k, p, s, s2 in zip(wanted, per_neuron[1:], scalar[1:], again[1:]):
        assert s.shape == () and p.shape == x.shape[1:]
        expected = p.double().sum()
        # the kernel's float64 sum in another order: ~1e-16 of the summed magnitudes, plus rounding to dtype
        torch.testing.assert_close(s.double(), expected, rtol=2e-7 if dtype == torch.float32 else 0,
                                   atol=1e-12 * float(p.double().abs().sum()), msg=f"parameter {k}")
        assert torch.equal(s, s2), "the same call must give the same sum (a fixed order, no atomics)"


def test_the_backend_returns_a_scalar_parameter_gradient_reduced_and_a_per_neuron_one_per_neuron():
    be = get_backend("cpu")
    spec = MultiStepSpec("plif", "ATan", (2.0,), False, False, False)
    T, N = 4, 1000
    x = torch.rand(T, N)
    params = [torch.tensor(1.0), torch.full((N,), -0.1), torch.tensor(0.3)]
    _, _, _, saved = be.forward(spec, x, [torch.zeros(N)], params, True)
    inputs = BackwardInputs(saved, x, [torch.zeros(N)], params, [True, True, True], torch.rand(T, N), [None], None)
    _, _, (g_vth, g_vreset, g_w) = be.backward(spec, inputs)
    assert g_vth.shape == () and g_w.shape == () and g_vreset.shape == (N,)
