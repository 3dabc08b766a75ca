"""A surrogate module's spike takes the cheapest path that gives the same result: the autograd Function's C entry
when a gradient is recorded (skipping torch's per-call argument binding), the bare step when nothing is recorded,
and torch's full ``Function.apply`` under torch.compile, functorch transforms and forward-mode AD. Every path must
give the spikes and gradients of ``_SpikeFn.apply`` bit for bit."""

import pytest
import torch
import torch.autograd.forward_ad as fwAD

from sj import functional, neuron, surrogate
from sj.surrogate import _SpikeFn
from sj.surrogate.declarations import BUILTIN_SURROGATES


def _z(dtype=torch.float64):
    return torch.linspace(-2, 2, 81, dtype=dtype).requires_grad_()


@pytest.mark.parametrize("name", BUILTIN_SURROGATES)
def test_recorded_spikes_and_gradients_equal_the_functions(name):
    sg = getattr(surrogate, name)()
    z = _z()
    s = sg(z)
    g = torch.linspace(0.5, 1.5, 81, dtype=torch.float64)
    s.backward(g)
    ref_z = _z()
    ref = _SpikeFn.apply(ref_z, sg.name, sg.param_values)
    ref.backward(g)
    assert torch.equal(s, ref) and torch.equal(z.grad, ref_z.grad)
    assert type(s.grad_fn).__name__ == "_SpikeFnBackward"


@pytest.mark.parametrize("name", ["Sigmoid", "ATan", "PiecewiseLeakyReLU"])
def test_unrecorded_spikes_have_no_graph(name):
    sg = getattr(surrogate, name)()
    z = _z()
    with torch.no_grad():
        s = sg(z)
    assert s.grad_fn is None and torch.equal(s, (z >= 0).to(z.dtype))
    s = sg(z.detach())  # grad mode on, nothing requires grad
    assert s.grad_fn is None and not s.requires_grad


def test_forward_mode_ad_still_refuses():
    """The spike has no forward-mode derivative: a dual input raises (torch's error), it does not lose its tangent."""
    sg = surrogate.ATan()
    with fwAD.dual_level(), torch.no_grad():
        dual = fwAD.make_dual(torch.randn(5), torch.ones(5))
        with pytest.raises(NotImplementedError, match="jvp"):
            sg(dual)


def _steps(node, x):
    functional.reset_net(node)
    return torch.stack([node(x[t]) for t in range(x.shape[0])])


def test_functorch_grad_through_single_steps_equals_autograd():
    node = neuron.LIFNode(surrogate_function=surrogate.Sigmoid())
    x = torch.rand(4, 3, dtype=torch.float64) * 2
    fgrad = torch.func.grad(lambda xx: (_steps(node, xx) * torch.arange(3.0, dtype=xx.dtype)).sum())(x)
    xr = x.clone().requires_grad_()
    (_steps(node, xr) * torch.arange(3.0, dtype=xr.dtype)).sum().backward()
    assert torch.equal(fgrad, xr.grad) and fgrad.abs().sum() > 0


def test_compiled_single_steps_equal_eager():
    node = neuron.LIFNode(surrogate_function=surrogate.ATan())
    x = torch.rand(4, 2, 3) * 2
    xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    eager = _steps(node, xe)
    eager.square().sum().backward()
    compiled = torch.compile(lambda xx: _steps(node, xx), fullgraph=True, backend="aot_eager")(xc)
    compiled.square().sum().backward()
    assert torch.equal(eager, compiled)
    torch.testing.assert_close(xe.grad, xc.grad, rtol=1e-6, atol=1e-7)
