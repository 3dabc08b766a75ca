"""torch.compile(fullgraph=True) matrix: every neuron × every available backend × step mode matches eager (forward,
state and gradients); a whole conv SNN training step compiles with inductor."""

import functools
import os

import pytest
import torch
from _training_nets import conv_snn, loss_fn

from sj import neuron, surrogate
from sj.backends.registry import status, unsupported_reason
from sj.functional import reset_net

NEURONS = {
    "IF": lambda **k: neuron.IFNode(**k),
    "LIF": lambda **k: neuron.LIFNode(tau=2.5, surrogate_function=surrogate.ATan(), **k),
    "LIF-nodecay": lambda **k: neuron.LIFNode(decay_input=False, v_reset=None, **k),
    "PLIF": lambda **k: neuron.ParametricLIFNode(v_reset=None, **k),
    "QIF": lambda **k: neuron.QIFNode(**k),
    "EIF": lambda **k: neuron.EIFNode(detach_reset=True, **k),
    "Izhikevich": lambda **k: neuron.IzhikevichNode(**k),
    "KLIF": lambda **k: neuron.KLIFNode(**k),
    "CUBALIF": lambda **k: neuron.CUBALIFNode(**k),
    "NonSpikingLIF": lambda **k: neuron.NonSpikingLIFNode(**k),
    "LIAF": lambda **k: neuron.LIAFNode(torch.tanh, False, **k),
}


@functools.cache
def backends() -> list[str]:
    """Available backends; triton only under its CPU interpreter (TRITON_INTERPRET=1)."""
    return [s.name for s in status()
            if s.available and (s.name != "triton" or os.environ.get("TRITON_INTERPRET") == "1")]


def _matrix():
    for name in NEURONS:
        # single-step mode always runs the torch step function, whatever the backend
        yield pytest.param(name, "s", "torch", id=f"{name}-s")
        if name == "LIAF":  # torch backend only; its 'm' mode loops the single-step function
            yield pytest.param(name, "m", "torch", id=f"{name}-m-torch")
            continue
        for b in backends():
            yield pytest.param(name, "m", b, id=f"{name}-m-{b}")


def _run(node, xs, mode):
    outs = [node(x) for x in xs] if mode == "s" else [node(torch.cat(xs))]
    y = torch.cat(outs) if mode == "m" else torch.stack(outs)
    loss = (y * torch.linspace(0, 1, y.numel()).view_as(y)).sum() + sum(
        v.sum() for k, v in node.named_memories() if k != "v_seq" and isinstance(v, torch.Tensor))
    params = list(node.parameters())
    grads = torch.autograd.grad(loss, [*xs, *params])
    states = [v.detach().clone() for k, v in node.named_memories() if k != "v_seq" and isinstance(v, torch.Tensor)]
    return y.detach(), states, grads


@pytest.mark.parametrize("name, mode, backend", list(_matrix()))
def test_compiled_equals_eager(name, mode, backend):
    torch._dynamo.reset()
    kw = dict(step_mode=mode, **({} if backend == "torch" else {"backend": backend}))
    eager, node = NEURONS[name](**kw), NEURONS[name](**kw)
    node.load_state_dict(eager.state_dict())
    reason = unsupported_reason(backend, eager.spec(), torch.device("cpu"), torch.float32)
    if reason is not None:
        pytest.skip(reason)
    g = torch.Generator().manual_seed(0)
    steps = [torch.rand(2, 3, 4, generator=g) * 2 for _ in range(3)]
    if mode == "s":
        steps = [s[0] for s in steps]
    ref = _run(eager, [s.clone().requires_grad_() for s in steps], mode)
    got = _run(torch.compile(node, fullgraph=True, backend="aot_eager"), [s.clone().requires_grad_() for s in steps],
               mode)
    assert ref[0].abs().sum() > 0
    for a, b in zip((got[0], *got[1], *got[2]), (ref[0], *ref[1], *ref[2]), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    reset_net(node)


def test_inductor_compiles_a_conv_snn_training_step():
    torch._dynamo.reset()
    torch.manual_seed(0)
    eager, net = conv_snn(neuron_cls=neuron.ParametricLIFNode), conv_snn(neuron_cls=neuron.ParametricLIFNode)
    net.load_state_dict(eager.state_dict())
    x = torch.rand(4, 2, 1, 8, 8) * 2
    target = torch.tensor([0, 2])

    def step(model, fwd):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = fwd(x, target)
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        opt.step()
        reset_net(model)
        return loss.detach(), grads

    compiled = torch.compile(lambda x, t: loss_fn(net(x), t), fullgraph=True)
    ref = step(eager, lambda x, t: loss_fn(eager(x), t))
    got = step(net, compiled)
    torch.testing.assert_close(got[0], ref[0])
    for a, b in zip(got[1], ref[1], strict=True):
        assert b.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(net.parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
