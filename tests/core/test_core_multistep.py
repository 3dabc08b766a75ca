"""The fused multi-step op equals a loop of single steps (forward and every gradient), for every neuron."""

import warnings

import pytest
import torch

from sj import neuron, surrogate
from sj.functional import reset_net

NODES = {
    "IF": lambda **k: neuron.IFNode(**k),
    "LIF": lambda **k: neuron.LIFNode(tau=2.0, **k),
    "LIF-nodecay": lambda **k: neuron.LIFNode(tau=3.0, decay_input=False, **k),
    "PLIF": lambda **k: neuron.ParametricLIFNode(init_tau=2.5, **k),
    "QIF": lambda **k: neuron.QIFNode(**k),
    "EIF": lambda **k: neuron.EIFNode(**k),
    "Izhikevich": lambda **k: neuron.IzhikevichNode(**k),
    "KLIF": lambda **k: neuron.KLIFNode(**k),
    "CUBALIF": lambda **k: neuron.CUBALIFNode(**k),
}


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("detach", [False, True])
def test_multi_step_equals_single_steps(name, soft, detach):
    torch.manual_seed(0)
    kw = dict(detach_reset=detach, surrogate_function=surrogate.ATan())
    if soft:
        kw["v_reset"] = None
    multi, single = NODES[name](**kw), NODES[name](**kw)
    single.load_state_dict(multi.state_dict())
    multi.to(torch.float64).step_mode = "m"
    single.to(torch.float64)
    x = (torch.rand(6, 3, 5, dtype=torch.float64) * 1.5).requires_grad_()
    y1 = multi(x)
    y2 = torch.stack([single(xt) for xt in x])
    assert torch.equal(y1, y2)
    g = torch.rand_like(y1)
    loss1 = (y1 * g).sum() + multi.v.sum()
    loss2 = (y2 * g).sum() + single.v.sum()
    params1 = [p for p in multi.parameters()]
    params2 = [p for p in single.parameters()]
    g1 = torch.autograd.grad(loss1, [x, *params1])
    g2 = torch.autograd.grad(loss2, [x, *params2])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
    reset_net(multi)
    reset_net(single)


def test_state_carries_over_between_multistep_calls():
    node = neuron.LIFNode(step_mode="m")
    x = torch.rand(8, 4)
    whole = node(x)
    reset_net(node)
    halves = torch.cat([node(x[:4]), node(x[4:])])
    assert torch.equal(whole, halves)


def test_store_v_seq_and_gradient_through_v_seq():
    node = neuron.LIFNode(step_mode="m", store_v_seq=True).to(torch.float64)
    x = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    node(x)
    assert node.v_seq.shape == (5, 3)
    assert torch.equal(node.v_seq[-1], node.v)
    node.v_seq.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_per_neuron_parameters():
    tau = torch.tensor([1.5, 2.0, 4.0])
    node = neuron.LIFNode(tau=tau, v_threshold=torch.tensor([0.5, 1.0, 2.0]), step_mode="m")
    x = torch.full((4, 2, 3), 1.0)
    y = node(x)
    for j in range(3):
        ref = neuron.LIFNode(tau=float(tau[j]), v_threshold=[0.5, 1.0, 2.0][j], step_mode="m")
        assert torch.equal(y[..., j], ref(x[..., j]))


def test_learnable_per_neuron_tau_gradient_matches_single_step():
    init = torch.tensor([2.0, 3.0, 5.0], dtype=torch.float64)
    a = neuron.ParametricLIFNode(init_tau=init, step_mode="m").to(torch.float64)
    b = neuron.ParametricLIFNode(init_tau=init).to(torch.float64)
    x = torch.rand(6, 2, 3, dtype=torch.float64) * 2
    a(x).sum().backward()
    torch.stack([b(xt) for xt in x]).sum().backward()
    assert a.w.grad.shape == (3,)
    torch.testing.assert_close(a.w.grad, b.w.grad)


def _lif_args(x: torch.Tensor, tau: torch.Tensor) -> tuple:
    return ("torch", "lif", "ATan", [2.0], False, False, False, True, x, [torch.zeros(x.shape[1:], dtype=x.dtype)],
            [torch.tensor(1.0, dtype=x.dtype), torch.tensor(0.0, dtype=x.dtype), tau])


def test_direct_op_call_is_differentiable_like_multistep():
    from sj.ops import multistep

    torch.manual_seed(0)
    x = (torch.rand(5, 7, dtype=torch.float64) * 2).requires_grad_()
    tau = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    g = torch.rand(5, 7, dtype=torch.float64)
    spike, _, _ = multistep("lif", x, [torch.zeros(7, dtype=torch.float64)], [1.0, 0.0, tau], surrogate="ATan",
                            surrogate_params=[2.0])
    expected = torch.autograd.grad(spike, [x, tau], g)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "autograd kernel was not registered" warning
        direct = torch.ops.sj.multistep_fwd(*_lif_args(x, tau))[0]
        got = torch.autograd.grad(direct, [x, tau], g)
    assert torch.equal(direct, spike)
    assert all(torch.allclose(a, b, rtol=1e-12, atol=1e-12) for a, b in zip(got, expected))


def test_number_parameters_made_under_inference_mode_can_be_saved_for_backward():
    # number parameters become shared 0-d tensors; one first made under inference_mode must not be an inference
    # tensor, or a later training call could not save it for backward
    from sj.ops import multistep

    value = 0.8125  # a threshold no other test uses, so this test makes the shared tensor first
    with torch.inference_mode():
        multistep("lif", torch.rand(3, 4), [torch.zeros(4)], [value, 0.0, 2.0], surrogate="ATan")
    x = torch.rand(3, 4, requires_grad=True)
    spike, _, _ = multistep("lif", x, [torch.zeros(4)], [value, 0.0, 2.0], surrogate="ATan")
    (grad,) = torch.autograd.grad(spike.sum(), [x])
    assert grad.shape == x.shape and torch.isfinite(grad).all()


def test_unused_last_states_reach_the_backend_as_none_and_count_as_zero(monkeypatch):
    """A last state nothing uses gets no [*S] zeros: the backend sees None, and the gradients equal those of a loss
    that uses it with weight 0."""
    from sj.backends.torch_backend import TorchBackend
    from sj.ops import multistep

    seen = []
    backward = TorchBackend.backward

    def spy(self, spec, inputs):
        seen.append(list(inputs.grad_states_last))
        return backward(self, spec, inputs)

    monkeypatch.setattr(TorchBackend, "backward", spy)
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(5, 4, dtype=torch.float64, generator=gen) * 2).requires_grad_()
    v0 = (torch.rand(4, dtype=torch.float64, generator=gen) - 0.5).requires_grad_()

    def grads(weight_last: float | None):
        spike, (last,), _ = multistep("lif", x, [v0], [1.0, 0.0, 2.0], surrogate="ATan", backend="torch")
        loss = (spike * torch.linspace(-1, 1, 20, dtype=torch.float64).reshape(5, 4)).sum()
        if weight_last is not None:
            loss = loss + weight_last * last.sum()
        return torch.autograd.grad(loss, [x, v0])

    unused, zero_weight = grads(None), grads(0.0)
    assert seen[0] == [None] and isinstance(seen[1][0], torch.Tensor)
    assert all(torch.equal(a, b) for a, b in zip(unused, zero_weight))
    assert not torch.equal(grads(1.0)[1], unused[1])  # the last state's gradient does reach v0 when used
