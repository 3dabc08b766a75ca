"""State is per module tree, out of state_dict, moved by .to(), and a batch change without reset is an error."""

import copy
import pickle

import pytest
import torch

from sj import functional, neuron
from sj.base import MemoryModule, StateShapeError, StepModeError


def net():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), neuron.LIFNode(step_mode="m"), torch.nn.Linear(4, 2),
                               neuron.IzhikevichNode(step_mode="m"))


def test_reset_net_resets_only_that_tree():
    a, b = net(), net()
    x = torch.rand(5, 2, 3) * 3
    a(x)
    b(x)
    functional.reset_net(a)
    assert a[1].v == 0.0 and a[3].w == 0.0
    assert isinstance(b[1].v, torch.Tensor) and isinstance(b[3].w, torch.Tensor)


def test_wrapped_neurons_are_reset_once_without_a_warning():
    """torch's CheckpointWrapper (as memopt wraps blocks) forwards ``reset``/``detach`` from the neuron it wraps: the
    neuron is reset and detached once, as itself, and the wrapper is not taken for a foreign stateful module."""
    import warnings

    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

    class CountingLIF(neuron.LIFNode):
        def reset(self) -> None:
            calls.append("reset")
            super().reset()

    calls = []
    node = CountingLIF(step_mode="m")
    wrapped = torch.nn.Sequential(checkpoint_wrapper(node))
    node(torch.rand(3, 2, requires_grad=True) * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        functional.detach_net(wrapped)
        assert not node.v.requires_grad
        assert functional.collect_reset_modules(wrapped) == (node,)
        functional.reset_net(wrapped)
    assert calls == ["reset"] and node.v == 0.0


def test_transient_state_is_not_in_state_dict():
    a = net()
    a(torch.rand(5, 2, 3))
    keys = set(a.state_dict())
    assert not any(k.endswith((".v", ".w", ".v_seq")) for k in keys)
    assert "1.tau" in keys and "1.v_threshold" in keys  # hyper-parameters are


def test_batch_size_change_without_reset_raises():
    a = net()
    a(torch.rand(5, 2, 3))
    with pytest.raises(StateShapeError, match="reset_net"):
        a(torch.rand(5, 7, 3))
    functional.reset_net(a)
    assert a(torch.rand(5, 7, 3)).shape == (5, 7, 2)


def test_to_moves_state_and_dtype():
    node = neuron.LIFNode(step_mode="m")
    node(torch.rand(2, 3))
    node.to(torch.float64)
    assert node.v.dtype == torch.float64 and node.tau.dtype == torch.float64


def test_detach_net_cuts_the_graph():
    node = neuron.LIFNode(step_mode="m")
    x = torch.rand(3, 2, requires_grad=True)
    node(x * 2)
    assert node.v.requires_grad
    functional.detach_net(node)
    assert not node.v.requires_grad


def test_deepcopy_and_pickle_keep_memories_separate():
    node = neuron.LIFNode(step_mode="m")
    node(torch.rand(2, 3))
    clone = copy.deepcopy(node)
    clone.reset()
    assert isinstance(node.v, torch.Tensor) and clone.v == 0.0
    again = pickle.loads(pickle.dumps(node))
    assert torch.equal(again.v, node.v)


def test_step_mode_validation_and_set_step_mode():
    with pytest.raises(StepModeError, match="'x'"):
        neuron.LIFNode(step_mode="x")
    a = net()
    functional.set_step_mode(a, "s")
    assert a[1].step_mode == "s"
    with pytest.raises(StepModeError):
        functional.set_step_mode(a, "q")
    assert a[1].step_mode == "s"


def test_multistep_module_rejects_single_step_rank():
    node = neuron.LIFNode(step_mode="m")
    with pytest.raises(StepModeError, match=r"\[T, N, \*\]"):
        node(torch.rand(4))


def test_register_memory_clash_is_an_error():
    m = MemoryModule()
    m.register_memory("x", 0.0)
    m.x = 3.0
    m.reset()
    assert m.x == 0.0
    with pytest.raises(AttributeError):
        m.register_memory("training", 1.0)


def test_multi_step_forward_and_seq_to_ann_forward():
    lin = torch.nn.Linear(3, 2)
    x = torch.rand(4, 5, 3)
    torch.testing.assert_close(functional.seq_to_ann_forward(x, lin), lin(x))
    torch.testing.assert_close(functional.multi_step_forward(x, lin), lin(x))
    with pytest.raises(StepModeError):
        functional.seq_to_ann_forward(torch.rand(3), lin)


def test_set_step_mode_keeps_children_of_step_by_step_containers():
    from sj import layer

    inner = neuron.LIFNode(step_mode="s")
    net = torch.nn.Sequential(layer.MultiStepContainer(inner), neuron.LIFNode(step_mode="s"))
    functional.set_step_mode(net, "m")
    assert net[0].step_mode == "m" and net[1].step_mode == "m" and inner.step_mode == "s"
    assert net(torch.rand(4, 2, 3)).shape == (4, 2, 3)


@pytest.mark.parametrize("v_reset", [0.0, -0.5])
def test_a_reset_state_tensor_is_reused_by_the_multistep_op_and_never_written(v_reset):
    node = neuron.LIFNode(v_reset=v_reset, step_mode="m")
    fresh = neuron.LIFNode(v_reset=v_reset, step_mode="m")
    x = torch.rand(6, 3, 5) * 3
    kept = []
    for _ in range(3):
        node.reset()
        fresh.reset()
        fresh._state_fills.clear()  # the reference makes its initial state anew every call
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = node(xa), fresh(xb)
        (ya * x).sum().backward()
        (yb * x).sum().backward()
        assert torch.equal(ya, yb) and torch.equal(xa.grad, xb.grad)
        kept.append(node._state_fills["v"][1])
    assert kept[0] is kept[1] is kept[2]  # one tensor, reused
    assert torch.equal(kept[0], torch.full((3, 5), v_reset))  # still the reset value: only read
    node.reset()
    node(torch.rand(6, 4, 5))  # another batch shape: a new tensor, not the old one reshaped
    assert node._state_fills["v"][1].shape == (4, 5) and kept[0].shape == (3, 5)


def test_single_step_states_are_never_shared():
    node = neuron.LIFNode(step_mode="s")
    node(torch.rand(3, 5))
    assert node._state_fills == {}
