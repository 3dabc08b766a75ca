"""Bad arguments and inputs to the SpikingJelly 2.0 neurons get a clear error naming the problem."""

import math

import pytest
import torch

from sj import neuron
from sj.base import StepModeError


@pytest.mark.parametrize("make, match", [
    (lambda: neuron.RAFNode(b=0.2), "b must be < 0"),
    (lambda: neuron.RAFNode(omega=math.nan), "omega must be a finite number"),
    (lambda: neuron.TernaryIFNode(v_threshold=-1.0), "v_threshold must be a finite positive"),
    (lambda: neuron.TernaryIFNode(v_reset=1.5), "strictly between"),
    (lambda: neuron.TernaryLIFNode(tau=1.0), "tau must be a finite number > 1"),
    (lambda: neuron.ILIFNode(tau=0.5), "tau must be a number > 1"),
    (lambda: neuron.ComplementaryLIFNode(tau=1.0), "tau must be a number > 1"),
    (lambda: neuron.GatedLIFNode(0), "T must be a positive integer"),
    (lambda: neuron.GatedLIFNode(4, init_tau=1.5), "init_tau must be in"),
    (lambda: neuron.PSN(0), "T must be a positive integer"),
    (lambda: neuron.DSRIFNode(alpha=0.0), "alpha must be in"),
    (lambda: neuron.DSRLIFNode(v_threshold=0.05), "v_threshold must be >="),
    (lambda: neuron.FewSpikeTable([1.0, 2.0], [1.0], [1.0, 2.0]), "same length"),
    (lambda: neuron.FewSpikeTable([1.0, math.inf], [1.0, 1.0], [1.0, 2.0]), "finite"),
    (lambda: neuron.HGNode([neuron.FewSpikeTable([1.0], [1.0], [1.0])] * 2, [0.5, 1.0]), "len"),
    (lambda: neuron.ILCIFNode(0, 3), "act_dim must be a positive integer"),
    (lambda: neuron.MPBNLIFNode(), "exactly one of out_features and out_channels"),
    (lambda: neuron.STBIFNode(0.5, level=1), "level must be an integer >= 2"),
    (lambda: neuron.ActivationAwareIFNode(v_threshold=0.0), "finite and positive"),
    (lambda: neuron.ActivationAwareIFNode(v_threshold=torch.ones(2, 2)), "1-D"),
    (lambda: neuron.FlexSN(lambda x, v: (x, v), 2), "leave no step input"),
    (lambda: neuron.FlexSN(lambda x, v: v, 1), "must return its outputs"),
    (lambda: neuron.NonSpikingLIFNode(2.0, "max"), "decode must be one of"),
    (lambda: neuron.NonSpikingLIFNode(2.0, v_reset=None), "cannot be None"),
    (lambda: neuron.IzhikevichNode(w_rest=math.inf), "w_rest must be a finite number"),
    (lambda: neuron.IzhikevichNode(tau_w=0.0), "tau_w must be > 0"),
    (lambda: neuron.QIFNode(a0=0.0), "a0 must be > 0"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("call, error, match", [
    (lambda: neuron.GatedLIFNode(4)(torch.rand(3, 2, 1, 2, 2)), StepModeError, r"T=4"),
    (lambda: neuron.PSN(4)(torch.rand(3, 2)), StepModeError, r"T=4"),
    (lambda: neuron.FewSpikeNode(neuron.FewSpikeTable([1.0], [1.0], [1.0]), step_mode="m")(torch.rand(2, 3)),
     ValueError, "must equal K=1"),
    (lambda: neuron.NonSpikingLIFNode(2.0, "max-mem", step_mode="s")(torch.rand(3)), StepModeError,
     "needs whole sequences"),
    (lambda: neuron.ILCIFNode(2, 3)(torch.rand(4, 2, 5)), StepModeError, r"\[T, N, 6\]"),
    (lambda: neuron.NoisyCUBALIFNode(6, T=4)(torch.rand(4, 2, 6)), RuntimeError, "reset_noise"),
    (lambda: neuron.FlexSN(lambda x, v: (x, v), 1)(torch.rand(3, 2), torch.rand(3, 2)), ValueError,
     "takes 1 inputs, got 2"),
    (lambda: neuron.ActivationAwareIFNode(torch.ones(3))(torch.rand(2, 4)), ValueError, "has 3 values"),
    (lambda: neuron.TernaryIFNode()(torch.ones(2, dtype=torch.int64)), TypeError, "floating point"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_masked_psn_single_step_limits():
    node = neuron.MaskedPSN(2, 2, lambda_init=1.0)
    node(torch.rand(3))
    node(torch.rand(3))
    with pytest.raises(OverflowError, match="has run 3 steps"):
        node(torch.rand(3))


def test_learnable_parameter_assignment():
    node = neuron.ParametricLIFNode()
    node.w = 0.5
    assert node.w.item() == 0.5 and isinstance(node.w, torch.nn.Parameter)
    with pytest.raises(ValueError, match="learnable parameter of shape"):
        node.w = torch.ones(3)
    lif = neuron.LIFNode()
    with pytest.raises(TypeError, match="must be a number or a tensor"):
        lif.tau = "3"
