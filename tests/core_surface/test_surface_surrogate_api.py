"""sj.surrogate's SpikingJelly protocol: parameters checked on every path that sets them, spiking mode, custom
SurrogateFunctionBase subclasses, the python-only surrogates, check_manual_grad, plot_surrogate_function."""

import math
import re
import warnings

import pytest
import torch

from sj import neuron, surrogate

BAD = [math.nan, math.inf, -math.inf, True, "2", None]


@pytest.mark.parametrize("cls,param,ok", [
    (surrogate.Sigmoid, "alpha", 3.0), (surrogate.ATan, "alpha", 1.0), (surrogate.QPseudoSpike, "alpha", 3.0),
    (surrogate.PiecewiseLeakyReLU, "w", 0.5), (surrogate.PiecewiseLeakyReLU, "c", 0.2), (surrogate.S2NN, "beta", 2.0),
    (surrogate.LeakyKReLU, "leak", -0.1), (surrogate.LogTailedReLU, "alpha", 0.1),
    (surrogate.FakeNumericalGradient, "alpha", 0.5), (surrogate.NonzeroSignLogAbs, "alpha", 2.0),
])
def test_assignment_is_checked_like_the_constructor(cls, param, ok):
    sg = cls()
    for bad in BAD:
        with pytest.raises(ValueError, match=param):
            cls(**{param: bad})
        with pytest.raises(ValueError, match=param):
            setattr(sg, param, bad)
    setattr(sg, param, ok)
    assert getattr(sg, param) == ok and sg.param_values[sg.decl.params.index(param)] == ok
    if param in sg.bounds:  # the lower bound holds on assignment too
        with pytest.raises(ValueError, match=re.escape(f"{param} must be > {sg.bounds[param]}")):
            setattr(sg, param, sg.bounds[param])
    with pytest.raises(ValueError, match=param):  # a tensor value is checked as well
        setattr(sg, param, torch.tensor(math.nan))


def test_assigned_parameter_reaches_the_gradient_and_the_neuron():
    sg = surrogate.Sigmoid(alpha=4.0)
    sg.alpha = 2.0
    z = torch.tensor([0.3], requires_grad=True)
    sg(z).sum().backward()
    s = torch.sigmoid(torch.tensor(0.6))
    torch.testing.assert_close(z.grad, 2.0 * s * (1 - s).reshape(1))
    node = neuron.IFNode(surrogate_function=sg)
    assert node.spec().surrogate_params == (2.0,)


def test_spiking_mode_checked_on_every_path():
    sg = surrogate.FakeNumericalGradient()
    with pytest.raises(ValueError, match="no primitive"):
        sg.spiking = False
    with pytest.raises(ValueError, match="no primitive"):
        sg.set_spiking_mode(False)
    assert sg.spiking is True
    with pytest.raises(TypeError, match="spiking must be a bool"):
        surrogate.Sigmoid().spiking = "no"
    with pytest.raises(TypeError, match="parameters"):
        surrogate.SurrogateFunction.__init__(surrogate.Sigmoid.__new__(surrogate.Sigmoid), True, beta=1.0)


def test_surrogate_function_base_protocol_for_custom_subclasses():
    class Triangle(surrogate.SurrogateFunctionBase):
        bounds = {"width": 0.0}  # noqa: RUF012

        def __init__(self, width=1.0, spiking=True):
            super().__init__(spiking, width=width)

        @staticmethod
        def spiking_function(x, width):
            return surrogate.DeterministicPass.spiking_function(x) * (x.abs() < width)

        @staticmethod
        def primitive_function(x, width):
            return (x / width).clamp(-1, 1)

    sg = Triangle(0.5)
    assert sg._sg_params == {"width": 0.5} and "width=0.5" in repr(sg)
    x = torch.tensor([-1.0, 0.2, 0.7])
    torch.testing.assert_close(sg(x), torch.tensor([0.0, 1.0, 0.0]))
    sg.set_spiking_mode(False)
    torch.testing.assert_close(sg(x), torch.tensor([-1.0, 0.4, 1.0]))
    with pytest.raises(ValueError, match=r"width must be > 0\.0"):
        sg.width = -1.0
    with pytest.raises(ValueError, match="width must be a finite number"):
        Triangle(math.nan)
    assert isinstance(surrogate.Sigmoid(), surrogate.SurrogateFunctionBase)


def test_deterministic_pass_is_straight_through_on_every_backend():
    x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    sg = surrogate.DeterministicPass()
    y = sg(x)
    y.backward(torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(y, torch.tensor([0.0, 1.0, 1.0]))
    torch.testing.assert_close(x.grad, torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(sg.derivative(x.detach()), torch.ones(3))  # a tensor, though the formula is "1"
    assert surrogate.DeterministicPass(spiking=False)(x) is x
    n = neuron.IFNode(surrogate_function=sg, step_mode="m")
    v = torch.randn(3, 2, requires_grad=True)
    n(v).sum().backward()
    assert v.grad.abs().sum() > 0


def test_squarewave_and_multi_level_parameters():
    with pytest.raises(ValueError, match="integer >= 1"):
        surrogate.SquarewaveFourierSeries(n=0)
    with pytest.raises(ValueError, match="T_period must be > 0"):
        surrogate.SquarewaveFourierSeries(T_period=0.0)
    sg = surrogate.SquarewaveFourierSeries(n=3, T_period=4.0)
    with pytest.raises(ValueError, match="integer"):
        sg.n = 2.5
    x = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    sg(x).sum().backward()
    w = 2 * math.pi / 4.0
    torch.testing.assert_close(x.grad, torch.tensor([(math.cos(w * 0.3) + math.cos(3 * w * 0.3)) * 4 / 4.0],
                                                    dtype=torch.float64))
    with pytest.raises(TypeError, match="integer"):
        surrogate.MultiLevelSpikeCount(2.0)
    with pytest.raises(ValueError, match=">= 1"):
        surrogate.MultiLevelSpikeCount(0)
    with pytest.raises(ValueError, match="grad_min <= grad_max"):
        surrogate.MultiLevelSpikeCount(3, grad_window=(2.0, 1.0))
    m = surrogate.MultiLevelSpikeCount(3)
    with pytest.raises(ValueError, match="grad_min <= grad_max"):
        m.grad_min = 5.0
    with pytest.raises(TypeError, match="SurrogateFunction"):
        neuron.IFNode(surrogate_function=sg)  # not declared: neurons cannot generate kernels for it


def test_class_level_functions_bind_like_spikingjelly():
    x = torch.linspace(-1, 1, 5)
    torch.testing.assert_close(surrogate.Sigmoid.primitive_function(x, 2.0),
                               surrogate.Sigmoid.primitive_function(x, alpha=2.0))
    torch.testing.assert_close(surrogate.Sigmoid.primitive_function(x), torch.sigmoid(4.0 * x))  # the default α
    with pytest.raises(TypeError, match="unknown parameter"):
        surrogate.Sigmoid.primitive_function(x, beta=1.0)
    with pytest.raises(TypeError, match="takes 1 parameter"):
        surrogate.Sigmoid.spiking_function(x, 1.0, 2.0)
    with pytest.raises(ValueError, match="no primitive"):
        surrogate.FakeNumericalGradient.primitive_function(x)
    with pytest.raises(TypeError, match="parameter"):
        surrogate.sigmoid_backward(torch.ones(5), x)


def test_check_manual_grad_reports_the_largest_difference(capsys):
    err = surrogate.check_manual_grad(surrogate.ATan.primitive_function, surrogate.ATan.spiking_function, 2.0)
    assert err < 1e-6 and "maximum error" in capsys.readouterr().out
    err = surrogate.check_manual_grad(surrogate.ATan.primitive_function, surrogate.Sigmoid.spiking_function, 2.0)
    assert err > 0.1


def test_plot_surrogate_function_writes_both_files_and_restores_the_mode(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    sg = surrogate.Erf(spiking=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plt.show() on Agg may warn that it cannot show
        surrogate.plot_surrogate_function(sg)
    import matplotlib.pyplot as plt

    plt.close("all")
    assert (tmp_path / "Erf.pdf").stat().st_size > 0 and (tmp_path / "Erf.svg").stat().st_size > 0
    assert sg.spiking is False
    with pytest.raises(ValueError, match="no primitive"):
        surrogate.plot_surrogate_function(surrogate.FakeNumericalGradient())


def test_quantize_is_sj_quantize_or_a_clear_attribute_error():
    try:
        import sj.quantize as q
    except ModuleNotFoundError:
        with pytest.raises(AttributeError, match=r"sj\.quantize"):
            surrogate.quantize  # noqa: B018
    else:
        assert surrogate.quantize is q


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_declared_surrogate_is_finite_with_finite_gradients_at_the_edges(dtype):
    """S2NN at x = −1, QPseudoSpike at ±(α − 1)/2, LogTailedReLU at 0, PiecewiseExp/Sigmoid at ±1e4, ...: torch.where
    differentiates both branches, so no branch may overflow anywhere."""
    from sj.surrogate.declarations import BUILTIN_SURROGATES

    x0 = torch.tensor([-1e4, -100.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 100.0, 1e4], dtype=dtype)
    for name in BUILTIN_SURROGATES:
        for spiking in (True, False):
            sg = getattr(surrogate, name)()
            if not spiking and sg.decl.primitive is None:
                continue
            sg.spiking = spiking
            x = x0.clone().requires_grad_(True)
            y = sg(x)
            (g,) = torch.autograd.grad(y.sum(), x)
            assert torch.isfinite(y).all() and torch.isfinite(g).all(), (name, spiking, y, g)
            if not spiking and name not in ("Rect", "PiecewiseLeakyReLU"):  # away from kinks: g' is the derivative
                torch.testing.assert_close(g, sg.derivative(x0))
