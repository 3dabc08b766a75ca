"""A second derivative through a multi-step neuron raises a clear error instead of silently missing the neuron's terms
(backends compute gradients outside autograd); first-order gradients taken with create_graph=True are unchanged."""

import warnings

import pytest
import torch

from sj import neuron
from sj.ops import multistep

BACKENDS = ["torch", "delegate"]
MESSAGE = "sj multistep: a spiking neuron's backward is not differentiable"


def _x() -> torch.Tensor:
    return (torch.rand(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 2).requires_grad_()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("name", "soft"), [("lif", False), ("qif", False), ("if_", True)])
def test_second_derivative_through_the_neuron_raises(backend, name, soft):
    """The gradient fed to the neuron requires grad: differentiating the result again reaches the guard."""
    x = _x()
    cls = {"lif": neuron.LIFNode, "qif": neuron.QIFNode, "if_": neuron.IFNode}[name]
    node = cls(step_mode="m", backend=backend, v_reset=None if soft else 0.0).double()
    (first,) = torch.autograd.grad((node(x) * x).sum(), x, create_graph=True)
    node.reset()
    (plain,) = torch.autograd.grad((node(x) * x).sum(), x)
    torch.testing.assert_close(first, plain, rtol=0, atol=0)  # first order: the same values
    with pytest.raises(RuntimeError, match=MESSAGE):
        torch.autograd.grad(first.sum(), x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unkept_input_dependency_is_warned(backend):
    """LIF's backward does not keep x_seq (memory): a gradient depending on it only through the saved H cannot be
    linked to the guard, and create_graph=True warns instead."""
    x = _x()
    node = neuron.LIFNode(step_mode="m", backend=backend)
    with pytest.warns(RuntimeWarning, match="no second derivative towards its input x_seq"):
        (first,) = torch.autograd.grad(node(x).sum(), x, create_graph=True)
    node.reset()
    (plain,) = torch.autograd.grad(node(x).sum(), x)
    torch.testing.assert_close(first, plain, rtol=0, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_parameter_gradient_used_in_a_second_pass_raises(backend):
    """An inner update of PLIF's ``w`` kept in the graph (second-order meta-learning) cannot go through the neuron."""
    x = _x()
    node = neuron.ParametricLIFNode(init_tau=2.0, step_mode="m", backend=backend).double()
    w = node.w
    (gw,) = torch.autograd.grad(node(x).sum(), w, create_graph=True)
    fast_w = w - 0.1 * gw
    node.reset()
    spikes, _, _ = multistep("plif", x.detach(), [torch.zeros(7, dtype=torch.float64)], [1.0, 0.0, fast_w],
                             surrogate="ATan", backend=backend)
    with pytest.raises(RuntimeError, match=MESSAGE):
        spikes.sum().backward()


def test_direct_op_calls_are_guarded_too():
    x = _x()
    params = [torch.tensor(v, dtype=torch.float64) for v in (1.0, 0.0, 2.0)]
    spike = torch.ops.sj.multistep_fwd("torch", "lif", "ATan", [2.0], False, False, False, True, x,
                                       [torch.zeros(7, dtype=torch.float64)], params)[0]
    (first,) = torch.autograd.grad((spike * x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=MESSAGE):
        torch.autograd.grad(first.sum(), x)


def test_first_order_backward_is_untouched():
    """Without create_graph: plain gradients (no guard node, no warning)."""
    x = _x()
    node = neuron.LIFNode(step_mode="m")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = torch.autograd.grad((node(x) * x).sum(), x)
    assert g.grad_fn is None and not g.requires_grad
