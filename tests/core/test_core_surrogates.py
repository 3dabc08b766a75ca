"""Surrogates: spike forward, declared derivative == finite difference of the primitive, defaults, bad input."""

import math

import pytest
import torch

from sj import surrogate
from sj.neuron.derive import check_surrogate_consistency
from sj.surrogate.declarations import BUILTIN_SURROGATES, surrogates

# SpikingJelly's default parameters.
DEFAULTS = {"Sigmoid": {"alpha": 4.0}, "ATan": {"alpha": 2.0}, "PiecewiseQuadratic": {"alpha": 1.0},
            "PiecewiseExp": {"alpha": 1.0}, "SoftSign": {"alpha": 2.0}, "SuperSpike": {"alpha": 1.0},
            "Erf": {"alpha": 2.0}, "Rect": {"alpha": 1.0}, "PiecewiseLeakyReLU": {"w": 1.0, "c": 0.01},
            "S2NN": {"alpha": 4.0, "beta": 1.0}, "QPseudoSpike": {"alpha": 2.0}, "LeakyKReLU": {"leak": 0.0, "k": 1.0},
            "FakeNumericalGradient": {"alpha": 0.3}, "LogTailedReLU": {"alpha": 0.0},
            "NonzeroSignLogAbs": {"alpha": 1.0}, "DeterministicPass": {}}
# Points where a derivative jumps (finite differences are meaningless within eps of them).
KINKS = {"Rect": [-0.5, 0.5], "PiecewiseLeakyReLU": [-1.0, 1.0], "LeakyKReLU": [0.0], "LogTailedReLU": [0.0, 1.0],
         "PiecewiseQuadratic": [-1.0, 0.0, 1.0]}


def test_every_builtin_is_exposed_with_spikingjelly_defaults():
    assert set(BUILTIN_SURROGATES) == set(DEFAULTS)
    for name, params in DEFAULTS.items():
        sg = getattr(surrogate, name)()
        for p, v in params.items():
            assert getattr(sg, p) == v, (name, p)


@pytest.mark.parametrize("name", BUILTIN_SURROGATES)
def test_forward_is_heaviside_and_backward_is_declared_derivative(name):
    sg = getattr(surrogate, name)()
    z = torch.linspace(-2, 2, 81, dtype=torch.float64, requires_grad=True)
    s = sg(z)
    assert torch.equal(s, (z >= 0).to(z.dtype))
    s.sum().backward()
    torch.testing.assert_close(z.grad, sg.derivative(z.detach()))
    assert z.grad.abs().sum() > 0  # no surrogate silently has zero gradient


@pytest.mark.parametrize("name", [n for n in BUILTIN_SURROGATES if surrogates.get(n).primitive is not None])
def test_derivative_equals_finite_difference_of_primitive(name):
    sg = getattr(surrogate, name)(spiking=False)
    z = torch.linspace(-2.37, 2.41, 301, dtype=torch.float64)
    z = z[torch.stack([(z - k).abs() > 1e-3 for k in KINKS.get(name, [])]).all(0)] if name in KINKS else z
    eps = 1e-6
    fd = (sg(z + eps) - sg(z - eps)) / (2 * eps)
    torch.testing.assert_close(sg.derivative(z), fd, rtol=1e-5, atol=1e-6)
    # and symbolically
    assert check_surrogate_consistency(surrogates.get(name)) < 1e-9


def test_fake_numerical_gradient_formula_and_no_primitive():
    sg = surrogate.FakeNumericalGradient(alpha=0.3)
    z = torch.tensor([-4.0, -1.0, 0.0, 2.0, 10.0], dtype=torch.float64)
    torch.testing.assert_close(sg.derivative(z), torch.tensor([0.25, 0.3, 0.3, 0.3, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="no primitive"):
        sg.set_spiking_mode(False)


def test_atan_closed_form():
    sg = surrogate.ATan(alpha=3.0)
    z = torch.tensor([0.3], dtype=torch.float64)
    expected = 3.0 / 2 / (1 + (math.pi / 2 * 3.0 * 0.3) ** 2)
    assert sg.derivative(z).item() == pytest.approx(expected)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "2", None, True])
def test_bad_parameters_are_rejected(bad):
    with pytest.raises(ValueError, match="alpha"):
        surrogate.ATan(alpha=bad)


def test_range_constraints():
    with pytest.raises(ValueError, match="alpha must be > 1"):
        surrogate.QPseudoSpike(alpha=1.0)
    with pytest.raises(ValueError, match="w must be > 0"):
        surrogate.PiecewiseLeakyReLU(w=0.0)


def test_int_parameters_are_accepted_as_floats():
    sg = surrogate.Sigmoid(alpha=4)
    assert sg.alpha == 4.0 and isinstance(sg.alpha, float)


def test_neurons_do_not_share_a_default_surrogate_instance():
    from sj import neuron

    a, b = neuron.LIFNode(), neuron.LIFNode()
    assert a.surrogate_function is not b.surrogate_function


def test_a_parameter_changed_after_calls_is_used_by_the_next_call():
    """param_values is kept between calls (read on every neuron call); assigning a parameter must replace it."""
    from sj import neuron

    x = torch.linspace(-1, 3, 24, dtype=torch.float64).reshape(4, 6).requires_grad_()

    def grad_of(node):
        node.reset()
        node(x).sum().backward()
        g, x.grad = x.grad.clone(), None
        return g

    node = neuron.LIFNode(surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m").double()
    before = grad_of(node)
    assert node.surrogate_function.param_values == (2.0,)
    node.surrogate_function.alpha = 5.0
    assert node.surrogate_function.param_values == (5.0,)
    after = grad_of(node)
    expected = grad_of(neuron.LIFNode(surrogate_function=surrogate.ATan(alpha=5.0), step_mode="m").double())
    torch.testing.assert_close(after, expected, rtol=0, atol=0)
    assert not torch.equal(before, after)


def test_param_values_of_a_subclass_keeping_a_tensor_are_read_every_time():
    sg = surrogate.ATan(alpha=2.0)
    object.__setattr__(sg, "alpha", torch.tensor(2.0))  # a subclass's own storage, changed in place below
    assert sg.param_values == (2.0,)
    sg.alpha.fill_(3.0)
    assert sg.param_values == (3.0,)
