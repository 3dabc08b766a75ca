"""sj.surrogate against SpikingJelly 2.0.0: modules, snake_case autograd functions, *_backward helpers and class-level
functions, forward and gradient at many points including the edges (±1e4, kinks, x = −1), in float64 and float32.

Where SpikingJelly is wrong sj is tested against the closed form instead (and docs/migrating.md says so):
FakeNumericalGradient at x = −0.0 (SpikingJelly: −inf) and SuperSpike's primitive (SpikingJelly has none).
"""

import math

import pytest
import torch
from oracle import spikingjelly

from sj import surrogate

# class name → constructor kwargs (not the defaults, so parameter passing is exercised)
CASES = {
    "Sigmoid": {"alpha": 3.0}, "ATan": {"alpha": 1.5}, "PiecewiseQuadratic": {"alpha": 1.3},
    "PiecewiseExp": {"alpha": 1.7}, "SoftSign": {"alpha": 2.5}, "SuperSpike": {"alpha": 1.2}, "Erf": {"alpha": 1.8},
    "Rect": {"alpha": 0.9}, "PiecewiseLeakyReLU": {"w": 0.8, "c": 0.05}, "S2NN": {"alpha": 3.0, "beta": 1.5},
    "QPseudoSpike": {"alpha": 2.5}, "LeakyKReLU": {"leak": 0.1, "k": 0.9}, "FakeNumericalGradient": {"alpha": 0.4},
    "LogTailedReLU": {"alpha": 0.05}, "NonzeroSignLogAbs": {"alpha": 1.4}, "DeterministicPass": {},
    "SquarewaveFourierSeries": {"n": 4, "T_period": 6.0},
}
SNAKE = {"Sigmoid": "sigmoid", "ATan": "atan", "PiecewiseQuadratic": "piecewise_quadratic",
         "PiecewiseExp": "piecewise_exp", "SoftSign": "soft_sign", "SuperSpike": "super_spike", "Erf": "erf",
         "Rect": "rect", "PiecewiseLeakyReLU": "piecewise_leaky_relu", "S2NN": "s2nn", "QPseudoSpike": "q_pseudo_spike",
         "LeakyKReLU": "leaky_k_relu", "FakeNumericalGradient": "fake_numerical_gradient",
         "LogTailedReLU": "log_tailed_relu", "NonzeroSignLogAbs": "nonzero_sign_log_abs",
         "DeterministicPass": "deterministic_pass", "SquarewaveFourierSeries": "squarewave_fourier_series"}
NO_PRIMITIVE = {"FakeNumericalGradient", "SuperSpike"}  # SpikingJelly has none (sj has SuperSpike's: closed form)
# S2NN's primitive: SpikingJelly uses β·log(|x + 1| + 1e-5) for x ≥ 0, sj β·log(x + 1); they differ by
# β·1e-5/(x + 1) ≤ 1.5e-5 in value and β·1e-5/(x + 1)² in slope, hence 2e-5 there.
ATOL = {"S2NN": 2e-5}


@pytest.fixture(scope="module")
def sj2():
    return spikingjelly("activation_based.surrogate")


def _points(dtype: torch.dtype, params: dict) -> torch.Tensor:
    special = [-1e4, -100.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 100.0, 1e4]
    for v in params.values():  # kinks at ±1/α, ±1/(2α), ±w
        special += [v, -v, 1 / v, -1 / v, 0.5 / v, -0.5 / v] if v else []
    return torch.cat([torch.linspace(-3, 3, 241, dtype=torch.float64), torch.tensor(special, dtype=torch.float64)]
                     ).to(dtype)


def _value_and_grad(fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    y = fn(x)
    weights = torch.linspace(0.5, 1.5, x.numel(), dtype=x.dtype)  # a non-uniform upstream gradient
    (grad,) = torch.autograd.grad((y * weights).sum(), x)
    return y.detach(), grad


def _close(a: torch.Tensor, b: torch.Tensor, atol: float) -> None:
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    torch.testing.assert_close(a, b, atol=atol, rtol=1e-5 if a.dtype == torch.float64 else 1e-4)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", sorted(CASES))
def test_module_spiking_and_primitive_match_spikingjelly(sj2, name, dtype):
    params = CASES[name]
    x = _points(dtype, params)
    ours, theirs = getattr(surrogate, name)(**params), getattr(sj2, name)(**params)
    for a, b in zip(_value_and_grad(ours, x), _value_and_grad(theirs, x)):
        _close(a, b, 1e-5)
    if name not in NO_PRIMITIVE:
        ours.set_spiking_mode(False)
        theirs.set_spiking_mode(False)
        for a, b in zip(_value_and_grad(ours, x), _value_and_grad(theirs, x)):
            _close(a, b, ATOL.get(name, 1e-5))


@pytest.mark.parametrize("name", sorted(CASES))
def test_snake_case_functions_match_spikingjelly(sj2, name):
    params = tuple(CASES[name].values())
    x = _points(torch.float64, CASES[name])
    ours, theirs = getattr(surrogate, SNAKE[name]), getattr(sj2, SNAKE[name])
    for a, b in zip(_value_and_grad(lambda z: ours.apply(z, *params), x),
                    _value_and_grad(lambda z: theirs.apply(z, *params), x)):
        _close(a, b, 1e-5)
    backward = f"{SNAKE[name]}_backward"
    if hasattr(sj2, backward):
        g = torch.linspace(-1, 2, x.numel(), dtype=x.dtype)
        got, want = getattr(surrogate, backward)(g, x, *params), getattr(sj2, backward)(g, x, *params)
        assert len(got) == len(want) and all(w is None for w in want[1:]) and all(o is None for o in got[1:])
        _close(got[0], want[0], 1e-5)


@pytest.mark.parametrize("name", sorted(set(CASES) - {"DeterministicPass", "SquarewaveFourierSeries"}))
def test_class_level_functions_match_spikingjelly(sj2, name):
    params = tuple(CASES[name].values())
    x = _points(torch.float64, CASES[name])
    ours, theirs = getattr(surrogate, name), getattr(sj2, name)
    g = torch.linspace(-1, 2, x.numel(), dtype=x.dtype)
    if hasattr(theirs, "backward"):  # SpikingJelly's S2NN and QPseudoSpike have none
        _close(ours.backward(g, x, *params), theirs.backward(g, x, *params), 1e-5)
    for a, b in zip(_value_and_grad(lambda z: ours.spiking_function(z, *params), x),
                    _value_and_grad(lambda z: theirs.spiking_function(z, *params), x)):
        _close(a, b, 1e-5)
    if name not in NO_PRIMITIVE:
        for a, b in zip(_value_and_grad(lambda z: ours.primitive_function(z, *params), x),
                        _value_and_grad(lambda z: theirs.primitive_function(z, *params), x)):
            _close(a, b, ATOL.get(name, 1e-5))


def test_where_spikingjelly_is_wrong_sj_follows_the_closed_form(sj2):
    # FakeNumericalGradient: g'(z) = min(1/|z|, α); at z = −0.0 SpikingJelly's (2Θ(z) − 1)/z gives −inf
    z = torch.tensor([-0.0], requires_grad=True)
    sj2.FakeNumericalGradient(alpha=0.3)(z).sum().backward()
    assert z.grad.item() == -math.inf
    z = torch.tensor([-0.0, 0.0, -4.0, 2.0], requires_grad=True)
    surrogate.FakeNumericalGradient(alpha=0.3)(z).sum().backward()
    torch.testing.assert_close(z.grad, torch.tensor([0.3, 0.3, 0.25, 0.3]))
    # SuperSpike: SpikingJelly has no primitive; sj's integrates α/(|z| + 1)² from g(−∞) = 1/2 − α to g(0) = 1/2
    with pytest.raises(NotImplementedError):
        sj2.SuperSpike(spiking=False)(torch.zeros(1))
    z = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    alpha = 1.2
    closed = torch.where(z < 0, alpha / (1 + z.abs()) - alpha + 0.5, alpha * (1 - 1 / (1 + z)) + 0.5)
    torch.testing.assert_close(surrogate.SuperSpike(alpha=alpha, spiking=False)(z), closed)


def test_poisson_pass_and_multi_level_spike_count_match_spikingjelly(sj2):
    p = torch.rand(64, dtype=torch.float32)
    outs = []
    for lib in (surrogate, sj2):
        torch.manual_seed(3)
        outs.append(_value_and_grad(lib.PoissonPass(), p))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    x = torch.tensor([-1.0, -0.2, 0.0, 0.4, 0.5, 1.49, 2.0, 2.6, 3.0, 3.5, 9.0])
    for window in (None, (0.5, 2.6)):
        ours = surrogate.MultiLevelSpikeCount(3, grad_window=window)
        theirs = sj2.MultiLevelSpikeCount(3, grad_window=window)
        for mode in (True, False):
            ours.set_spiking_mode(mode)
            theirs.set_spiking_mode(mode)
            for a, b in zip(_value_and_grad(ours, x), _value_and_grad(theirs, x)):
                torch.testing.assert_close(a, b)
    torch.testing.assert_close(surrogate.heaviside(x), sj2.heaviside(x))


def test_custom_surrogate_protocol_and_check_manual_grad(sj2, capsys):
    """The same SpikingJelly-style subclass on either base behaves alike; check_manual_grad takes either library's
    functions."""

    def make(base):
        class Clip(base):
            def __init__(self, alpha=2.0, spiking=True):
                super().__init__(spiking=spiking, alpha=alpha)

            @staticmethod
            def spiking_function(x, alpha):
                return sj2.sigmoid.apply(x, alpha)

            @staticmethod
            def primitive_function(x, alpha):
                return (x * alpha).sigmoid()

        return Clip

    x = _points(torch.float64, {"alpha": 2.0})
    for spiking in (True, False):
        ours, theirs = make(surrogate.SurrogateFunctionBase)(spiking=spiking), make(sj2.SurrogateFunctionBase)(
            spiking=spiking)
        assert ours._sg_params == theirs._sg_params and ours.extra_repr() == theirs.extra_repr()
        for a, b in zip(_value_and_grad(ours, x), _value_and_grad(theirs, x)):
            _close(a, b, 1e-5)
    for lib in (surrogate, sj2):
        err = surrogate.check_manual_grad(lib.Sigmoid.primitive_function, lib.Sigmoid.spiking_function, 4.0)
        assert err < 1e-6
    sj2.check_manual_grad(surrogate.Sigmoid.primitive_function, surrogate.Sigmoid.spiking_function, 4.0)
    assert "maximum error" in capsys.readouterr().out
