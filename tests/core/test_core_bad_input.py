"""Bad input gets a clear error naming the problem, and nothing is changed."""

import math

import pytest
import torch

from sj import neuron, surrogate
from sj.backends.registry import BackendError
from sj.base import StateShapeError, StepModeError
from sj.ops import multistep


@pytest.mark.parametrize("tau", [1.0, 0.5, -2.0, float("nan"), float("inf")])
def test_tau_must_exceed_one(tau):
    with pytest.raises(ValueError, match="tau"):
        neuron.LIFNode(tau=tau)


def test_per_neuron_tau_checked_elementwise():
    with pytest.raises(ValueError, match="tau must be > 1"):
        neuron.LIFNode(tau=torch.tensor([2.0, 0.9]))


def test_ints_are_accepted_where_floats_are_meant():
    node = neuron.LIFNode(tau=2, v_threshold=1, v_reset=0, step_mode="m")
    assert node.tau.dtype.is_floating_point
    assert node(torch.ones(2, 3)).shape == (2, 3)


@pytest.mark.parametrize("bad", ["2.0", None, True, [2.0]])
def test_non_numeric_parameters(bad):
    with pytest.raises(TypeError, match="tau must be a number or a tensor"):
        neuron.LIFNode(tau=bad)


def test_nan_threshold_and_nan_v_reset():
    with pytest.raises(ValueError, match="v_threshold"):
        neuron.IFNode(v_threshold=math.nan)
    with pytest.raises(ValueError, match="v_reset"):
        neuron.IFNode(v_reset=math.nan)


def test_wrong_surrogate_type():
    with pytest.raises(TypeError, match="SurrogateFunction"):
        neuron.LIFNode(surrogate_function=torch.sigmoid)


def test_plif_init_tau():
    with pytest.raises(ValueError, match="init_tau"):
        neuron.ParametricLIFNode(init_tau=1.0)


def test_cuba_decays_in_unit_interval():
    with pytest.raises(ValueError, match="c_decay"):
        neuron.CUBALIFNode(c_decay=1.5)


def test_wrong_rank_and_dtype_at_forward():
    node = neuron.LIFNode(step_mode="m")
    with pytest.raises(StepModeError):
        node(torch.rand(3))
    with pytest.raises(TypeError, match="floating point"):
        node(torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        node([[1.0]])


def test_zero_time_steps():
    with pytest.raises(ValueError, match="T >= 1"):
        multistep("lif", torch.rand(0, 3), [torch.zeros(3)], [1.0, 0.0, 2.0], surrogate="ATan",
                  surrogate_params=[2.0])


def test_op_argument_checks():
    x = torch.rand(4, 3)
    with pytest.raises(ValueError, match="has states"):
        multistep("lif", x, [], [1.0, 0.0, 2.0], surrogate="ATan", surrogate_params=[2.0])
    with pytest.raises(ValueError, match="has params"):
        multistep("lif", x, [torch.zeros(3)], [1.0, 0.0], surrogate="ATan", surrogate_params=[2.0])
    with pytest.raises(ValueError, match="does not broadcast"):
        multistep("lif", x, [torch.zeros(5)], [1.0, 0.0, 2.0], surrogate="ATan", surrogate_params=[2.0])
    with pytest.raises(TypeError, match="dtype"):
        multistep("lif", x, [torch.zeros(3, dtype=torch.float64)], [1.0, 0.0, 2.0], surrogate="ATan",
                  surrogate_params=[2.0])
    with pytest.raises(ValueError, match="finite"):
        multistep("lif", x, [torch.zeros(3)], [1.0, 0.0, math.nan], surrogate="ATan", surrogate_params=[2.0])
    with pytest.raises(ValueError, match="no neuron declaration named 'nope'"):
        multistep("nope", x, [torch.zeros(3)], [1.0, 0.0, 2.0], surrogate="ATan", surrogate_params=[2.0])
    with pytest.raises(ValueError, match="no surrogate declaration named"):
        multistep("lif", x, [torch.zeros(3)], [1.0, 0.0, 2.0], surrogate="Atan", surrogate_params=[2.0])


def test_unknown_backend_names_the_known_ones():
    node = neuron.LIFNode(step_mode="m", backend="cuda_magic")
    with pytest.raises(BackendError, match=r"unknown backend 'cuda_magic'.*'torch'"):
        node(torch.rand(2, 2))


def test_failed_forward_leaves_state_unchanged():
    node = neuron.LIFNode(step_mode="m")
    node(torch.rand(3, 4))
    v = node.v.clone()
    with pytest.raises(StateShapeError):
        node(torch.rand(3, 5))
    assert torch.equal(node.v, v)


def test_nan_input_propagates_to_the_membrane_not_hidden():
    """NaN is never replaced: the membrane becomes NaN (IEEE), which stays visible in v and in losses."""
    node = neuron.LIFNode(step_mode="m", surrogate_function=surrogate.ATan())
    x = torch.rand(3, 2)
    x[1, 0] = math.nan
    node(x)
    assert math.isnan(node.v[0].item()) and not math.isnan(node.v[1].item())


def test_surrogate_parameters_default_and_count():
    x = torch.rand(3, 2, requires_grad=True)
    s, _, _ = multistep("lif", x, [torch.zeros(2)], [1.0, 0.0, 2.0], surrogate="ATan")
    s.sum().backward()  # defaults (alpha=2) filled in; backward works
    assert x.grad is not None
    with pytest.raises(ValueError, match="takes 2 parameters"):
        multistep("lif", x, [torch.zeros(2)], [1.0, 0.0, 2.0], surrogate="S2NN", surrogate_params=[1.0])


def test_opt_in_finite_check():
    from sj.base import set_check_finite

    node = neuron.LIFNode(step_mode="m")
    node(torch.rand(3, 2))
    v = node.v.clone()
    x = torch.rand(3, 2)
    x[2, 1] = math.inf
    previous = set_check_finite(True)
    try:
        with pytest.raises(ValueError, match=r"non-finite.*index \(2, 1\)"):
            node(x)
        assert torch.equal(node.v, v)  # nothing changed
        single = neuron.IFNode()
        with pytest.raises(ValueError, match="non-finite"):
            single(torch.tensor([math.nan, 0.0]))
    finally:
        set_check_finite(previous)
    node(x)  # off again: propagates
    assert not torch.isfinite(node.v).all()
