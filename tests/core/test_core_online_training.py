"""OTTT and SLTT train online: what autograd keeps does not grow with the number of steps T."""

import pytest
import torch
from torch import nn

from sj import neuron
from sj.base import StepModeError
from sj.functional import reset_net


def _saved_per_step(node_cls, T: int) -> list[int]:
    """Run a linear layer and the neuron for T steps, one backward per step; count the tensors autograd saved during
    each step's forward that are still alive at the step's end (what the graph holds)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), node_cls())
    counts = []
    for _ in range(T):
        saved = []

        def pack(t, saved=saved):
            saved.append(t)
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = net(torch.rand(2, 4))
        spike = out[0] if isinstance(out, list) else out
        spike.sum().backward()
        counts.append(len(saved))
    reset_net(net)
    return counts


@pytest.mark.parametrize("cls", [neuron.OTTTLIFNode, neuron.SLTTLIFNode])
def test_saved_tensors_do_not_grow_with_T(cls):
    counts = _saved_per_step(cls, 6)
    assert len(set(counts[1:])) == 1, counts  # every step saves the same, whatever came before
    # the plain LIF neuron in the same loop keeps its graph across steps: the second backward fails
    plain = nn.Sequential(nn.Linear(4, 4), neuron.LIFNode())
    plain(torch.rand(2, 4)).sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        plain(torch.rand(2, 4)).sum().backward()


def _graph_size(t: torch.Tensor) -> int:
    """Nodes of the autograd graph behind ``t``."""
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        todo += [f for f, _ in fn.next_functions]
    return len(seen)


@pytest.mark.parametrize("cls", [neuron.OTTTLIFNode, neuron.SLTTLIFNode, neuron.LIFNode])
def test_graph_of_a_step_does_not_grow_with_T(cls):
    sizes = []
    for T in (2, 8):
        net = nn.Sequential(nn.Linear(4, 4), cls())
        for _ in range(T):
            out = net(torch.rand(2, 4))
        sizes.append(_graph_size(out[0] if isinstance(out, list) else out))
    if cls is neuron.LIFNode:  # backpropagation through time: the last step's graph reaches every step
        assert sizes[1] > sizes[0]
    else:
        assert sizes[0] == sizes[1]


@pytest.mark.parametrize("cls", [neuron.OTTTLIFNode, neuron.SLTTLIFNode])
def test_no_gradient_crosses_a_time_step(cls):
    node = cls()
    x0, x1 = torch.rand(3, requires_grad=True), torch.rand(3, requires_grad=True)
    node(x0 * 3)
    out = node(x1)
    spike = out[0] if isinstance(out, list) else out
    grads = torch.autograd.grad(spike.sum(), (x0, x1), allow_unused=True)
    assert grads[0] is None and grads[1] is not None


def test_ottt_trace_and_modes():
    node = neuron.OTTTLIFNode(tau=2.0)
    spike, trace = node(torch.full((2,), 1.5))
    assert torch.equal(trace, spike) and not trace.requires_grad
    spike2, trace2 = node(torch.full((2,), 1.5))
    assert torch.allclose(trace2, trace * 0.5 + spike2)
    node.eval()
    assert isinstance(node(torch.zeros(2)), torch.Tensor)  # evaluation: the spike only
    with pytest.raises(StepModeError, match="step_mode='s'"):
        neuron.SLTTLIFNode(step_mode="m")
    with pytest.raises(StepModeError, match="supports step modes"):
        node.step_mode = "m"
