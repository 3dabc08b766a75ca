"""Activation checkpointing (torch.utils.checkpoint) recomputes a forward during backward. A stateful module then holds
the state its last call left, not the one the recomputed call started from: before, the recomputation silently used
it and the gradients were wrong. Now such a call raises StateRecomputeError naming the module and the way out, and
the cases that are right — state set in the recomputation itself (reset_net, an assignment, TimeCheckpoint), or a
memory constant through a sequence (Dropout's mask) — give the gradients of the plain run. Deep copies of modules in
the middle of a recorded sequence work, with the state's values detached."""

import copy

import pytest
import torch
from torch.utils.checkpoint import checkpoint

from sj import functional, layer, neuron
from sj.base import StateRecomputeError
from sj.training import TimeCheckpoint

REENTRANT = [False, True]


def _modules():
    return {
        "LIFNode-m-torch": (lambda: neuron.LIFNode(step_mode="m"), (4, 3, 5)),
        "LIFNode-m-delegate": (lambda: neuron.LIFNode(step_mode="m", backend="delegate"), (4, 3, 5)),
        "IzhikevichNode-m": (lambda: neuron.IzhikevichNode(step_mode="m"), (4, 3, 5)),
        "LIFNode-s": (lambda: neuron.LIFNode(step_mode="s"), (3, 5)),
        "SynapseFilter": (lambda: layer.SynapseFilter(tau=2.0, learnable=True), (3, 5)),
        "Delay": (lambda: layer.Delay(2, step_mode="m"), (4, 3, 5)),
        "ElementWiseRecurrentContainer": (
            lambda: layer.ElementWiseRecurrentContainer(neuron.LIFNode(), lambda y, x: x * y + x), (3, 5)),
    }


def _input(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * 2).requires_grad_()


@pytest.mark.parametrize("reentrant", REENTRANT)
@pytest.mark.parametrize("name", list(_modules()))
def test_plain_checkpoint_of_a_stateful_module_raises(name, reentrant):
    make, shape = _modules()[name]
    module = make()
    x = _input(shape)
    module(x.detach() * 0.5)  # an earlier call of the sequence: the checkpointed call starts from its state
    y = checkpoint(module, x, use_reentrant=reentrant)
    if name == "Delay" and not reentrant:
        # Delay's backward keeps no tensor (a shift), so nothing is recomputed and the gradient is the plain one
        y.sum().backward()
        expected = torch.ones(shape)
        expected[-2:] = 0
        torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)
        return
    with pytest.raises(StateRecomputeError, match=rf"{type(module).__name__}: called during a backward pass"
                                                  r".*TimeCheckpoint.*reset_net"):
        y.sum().backward()


@pytest.mark.parametrize("reentrant", REENTRANT)
def test_plain_checkpoint_of_a_fresh_call_raises_too(reentrant):
    """The first call after a reset leaves its own last state in the module: a recomputation would start from that,
    so it is refused as well (the gradients were wrong here before, too)."""
    node = neuron.LIFNode(step_mode="m")
    x = _input((4, 3, 5))
    y = checkpoint(node, x, use_reentrant=reentrant)
    with pytest.raises(StateRecomputeError, match="LIFNode"):
        y.sum().backward()


def _net(backend="torch"):
    torch.manual_seed(0)
    return torch.nn.Sequential(layer.Linear(5, 6, step_mode="m"), neuron.LIFNode(step_mode="m", backend=backend),
                               layer.Linear(6, 4, step_mode="m"), neuron.ParametricLIFNode(step_mode="m",
                                                                                        backend=backend))


def _grads(net, x):
    return [p.grad.clone() for p in net.parameters()] + [x.grad.clone()]


@pytest.mark.parametrize("reentrant", REENTRANT)
@pytest.mark.parametrize("backend", ["torch", "delegate"])
def test_checkpointed_function_starting_with_reset_net_gives_the_plain_gradients(backend, reentrant):
    net = _net(backend)
    x = _input((6, 2, 5))
    functional.reset_net(net)
    net(x).square().sum().backward()
    plain = _grads(net, x)
    net.zero_grad()
    x.grad = None

    def run(inp):
        functional.reset_net(net)
        return net(inp)

    functional.reset_net(net)
    net(x.detach())  # leave a state the recomputation must not use
    checkpoint(run, x, use_reentrant=reentrant).square().sum().backward()
    for a, b in zip(plain, _grads(net, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_single_step_loop_inside_a_checkpoint_starting_with_reset_net():
    node = neuron.LIFNode(step_mode="s")
    x = _input((5, 3, 4))

    def run(inp):
        functional.reset_net(node)
        return torch.stack([node(step) for step in inp])

    run(x).sum().backward()
    plain = x.grad.clone()
    x.grad = None
    checkpoint(run, x, use_reentrant=False).sum().backward()
    torch.testing.assert_close(x.grad, plain, rtol=0, atol=0)


def test_state_assigned_inside_the_checkpointed_function():
    node = neuron.LIFNode(step_mode="m")
    x = _input((4, 3, 5))
    v0 = torch.rand(3, 5) * 0.8

    def run(inp, v):
        node.v = v
        return node(inp)

    run(x, v0).sum().backward()
    plain = x.grad.clone()
    x.grad = None
    node(x.detach())  # a later state, which the recomputation must not read
    checkpoint(run, x, v0, use_reentrant=False).sum().backward()
    torch.testing.assert_close(x.grad, plain, rtol=0, atol=0)


def test_time_checkpoint_still_recomputes_from_the_boundary_states():
    net = _net()
    x = _input((8, 2, 5))
    functional.reset_net(net)
    net(x).sum().backward()
    plain = _grads(net, x)
    net.zero_grad()
    x.grad = None
    functional.reset_net(net)
    TimeCheckpoint(net, segment_length=3)(x).sum().backward()
    for a, b in zip(plain, _grads(net, x)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_dropout_recomputes_from_its_mask():
    """Dropout's mask stays the same through a sequence, so a recomputation is right from the mask it holds."""
    drop = layer.Dropout(0.5, step_mode="m")
    x = _input((4, 3, 6))
    torch.manual_seed(1)
    drop(x).square().sum().backward()
    plain = x.grad.clone()
    functional.reset_net(drop)
    x.grad = None
    torch.manual_seed(1)
    checkpoint(drop, x, use_reentrant=False).square().sum().backward()
    torch.testing.assert_close(x.grad, plain, rtol=0, atol=0)


def test_the_refusal_is_per_backward_pass():
    """State set during one backward pass does not allow recomputation in a later one."""
    node = neuron.LIFNode(step_mode="m")
    x = _input((4, 3, 5))

    def run(inp):
        functional.reset_net(node)
        return node(inp)

    checkpoint(run, x, use_reentrant=False).sum().backward()  # allowed: reset inside
    y = checkpoint(node, x, use_reentrant=False)
    with pytest.raises(StateRecomputeError):
        y.sum().backward()


@pytest.mark.parametrize("name", list(_modules()))
def test_deepcopy_in_the_middle_of_a_recorded_sequence(name):
    make, shape = _modules()[name]
    module = make()
    x = _input(shape)
    module(x)  # memories now sit in the autograd graph
    held = {k: v for k, v in module.named_memories() if isinstance(v, torch.Tensor)}
    assert any(v.grad_fn is not None for v in held.values())
    twin = copy.deepcopy(module)
    for k, v in held.items():
        copied = dict(twin.named_memories())[k]
        assert copied.grad_fn is None and not copied.requires_grad
        torch.testing.assert_close(copied, v.detach(), rtol=0, atol=0)
        assert copied.data_ptr() != v.data_ptr()
        assert v.grad_fn is not None  # the original keeps its graph
    nxt = torch.rand(shape)
    torch.testing.assert_close(twin(nxt), module(nxt).detach(), rtol=0, atol=0)
