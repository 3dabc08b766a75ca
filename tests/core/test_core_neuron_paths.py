"""The three ways a neuron runs (declared, charge → fire → reset, SpikingJelly 2.0's functional protocol) agree where
they compute the same thing, in both step modes, with gradients; new declarations compile without graph breaks."""

import math

import pytest
import torch

from sj import neuron, surrogate
from sj.functional import raf_step, reset_net


def _run(node, x, mode):
    reset_net(node)
    node.step_mode = mode
    x = x.clone().requires_grad_()
    y = node(x) if mode == "m" else torch.stack([node(xt) for xt in x])
    (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
    return y.detach(), x.grad, {n: p.grad.clone() for n, p in node.named_parameters()}


def _same(a, b, atol=1e-12):
    for u, v in zip(a[:2], b[:2]):
        torch.testing.assert_close(u, v, rtol=0, atol=atol)
    assert a[2].keys() == b[2].keys()
    for k in a[2]:
        torch.testing.assert_close(a[2][k], b[2][k], rtol=0, atol=atol)


class _RechargedIzhikevich(neuron.IzhikevichNode):
    """Overrides neuronal_charge with the declaration's own formula: the stages must reproduce the declared step."""

    def neuronal_charge(self, x):
        self.v = self.v + (x + self.a0 * (self.v - self.v_rest) * (self.v - self.v_c) - self.w) / self.tau


class _RefiredCUBA(neuron.CUBALIFNode):
    def neuronal_fire(self):
        return self.surrogate_function(self.v - self.v_threshold)


class _ResetKLIF(neuron.KLIFNode):
    def neuronal_reset(self, spike):
        super().neuronal_reset(spike)


PAIRS = {
    "izhikevich-charge": (neuron.IzhikevichNode, _RechargedIzhikevich,
                          {"a": 0.4, "b": 0.3, "detach_reset": True, "surrogate_function": surrogate.ATan()}),
    "cuba-fire": (neuron.CUBALIFNode, _RefiredCUBA, {"c_decay": 0.4, "v_decay": 0.7, "v_reset": None}),
    "klif-reset": (neuron.KLIFNode, _ResetKLIF, {"decay_input": False}),
}


@pytest.mark.parametrize("mode", ["s", "m"])
@pytest.mark.parametrize("name", PAIRS)
def test_staged_path_equals_the_declared_step(name, mode):
    declared_cls, staged_cls, kw = PAIRS[name]
    declared, staged = declared_cls(**kw).double(), staged_cls(**kw).double()
    assert declared.path() == "declared" and staged.path() == "charge"
    x = torch.rand(5, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    _same(_run(staged, x, mode), _run(declared, x, mode))


def test_functional_protocol_of_a_declared_neuron_equals_its_forward():
    node = neuron.LIFNode(tau=3.0, v_reset=None).double()
    x = torch.rand(4, 2, 3, dtype=torch.float64) * 2
    (s1,), _ = node.single_step_functional_forward((x[0],), (torch.zeros(2, 3, dtype=torch.float64),))
    (sm,), (vm,) = node.multi_step_functional_forward((x,), (torch.zeros(2, 3, dtype=torch.float64),))
    node.step_mode = "m"
    assert torch.equal(node(x), sm) and torch.equal(node.v, vm) and torch.equal(sm[0], s1)
    assert isinstance(node.functional_forward((x,), (0.0,))[1][0], torch.Tensor)  # numbers become tensors


def test_raf_matches_its_closed_form_and_follows_assignment():
    node = neuron.RAFNode(-0.3, 1.2, 0.5, step_mode="m").double()
    x = torch.rand(6, 4, dtype=torch.float64) * 2
    u = v = torch.zeros(4, dtype=torch.float64)
    spikes = []
    for xt in x:
        s, u, v = raf_step(xt, u, v, -0.3, 1.2, 0.5, 1.0, 0.0, surrogate.heaviside)
        spikes.append(s)
    assert torch.equal(node(x), torch.stack(spikes)) and torch.allclose(node.u, u) and torch.allclose(node.v, v)
    node.omega = 2.0
    assert node.decay_cos.item() == pytest.approx(math.exp(-0.15) * math.cos(1.0))
    with pytest.raises(ValueError, match="b must be < 0"):
        node.b = 0.1
    assert "decay_cos" not in node.state_dict()  # derived from b, omega and dt (plain numbers, as in SJ)


def test_half_threshold_starts_at_half_and_rounds():
    node = neuron.HalfThresholdIFNode(2.0, step_mode="m")
    # V starts at V_th/2 = 1: four inputs of 1 give 2 spikes (round(4/2)) and leave V at 1
    assert node(torch.full((4, 1), 1.0)).sum().item() == 2 and node.v.item() == 1.0
    reset_net(node)
    assert node.v == 1.0
    with pytest.raises(ValueError, match="v_threshold"):
        neuron.HalfThresholdIFNode(-1.0)


def test_single_step_store_v_seq_appends_until_reset():
    node = neuron.LIFNode(store_v_seq=True)
    for _ in range(3):
        node(torch.rand(2))
    assert node.v_seq.shape == (3, 2) and torch.equal(node.v_seq[-1], node.v)
    reset_net(node)
    assert node.v_seq is None


NEW_DECLARED = {
    "RAF": lambda: neuron.RAFNode(step_mode="m"),
    "KLIF_nodecay": lambda: neuron.KLIFNode(decay_input=False, step_mode="m"),
    "HalfThresholdIF": lambda: neuron.HalfThresholdIFNode(step_mode="m"),
    "NonSpikingIF": lambda: neuron.NonSpikingIFNode("max-mem"),
}


@pytest.mark.parametrize("name", NEW_DECLARED)
def test_new_declarations_compile_without_graph_breaks(name):
    torch._dynamo.reset()
    eager, node = NEW_DECLARED[name](), NEW_DECLARED[name]()
    x = torch.rand(5, 3, 4) * 2
    compiled = torch.compile(node, fullgraph=True, backend="aot_eager")
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = eager(xa), compiled(xb)
    ya.sum().backward()
    yb.sum().backward()
    torch.testing.assert_close(yb, ya)
    torch.testing.assert_close(xb.grad, xa.grad)


def test_set_backend_leaves_neurons_without_a_declaration_alone():
    from sj.functional import set_backend

    net = torch.nn.Sequential(neuron.LIFNode(), neuron.TernaryIFNode(), neuron.ILIFNode())
    assert set_backend(net, "cpu") == [] and net[0].backend == "cpu" and net[1].backend == "auto"


def test_loading_another_reset_mode_restarts_the_membrane_there():
    hard = neuron.IFNode(v_reset=-0.5, step_mode="m")
    soft = neuron.IFNode(v_reset=None, step_mode="m")
    hard.load_state_dict(soft.state_dict())
    assert hard.soft_reset and hard.v == 0.0
    soft.load_state_dict(neuron.IFNode(v_reset=-0.5).state_dict())
    assert not soft.soft_reset and soft.v == -0.5 and soft.v_reset.item() == -0.5


def test_to_functional_forward_runs_a_charge_subclass_through_its_own_charge():
    """A subclass overriding ``neuronal_charge`` is not its declaration: ``to_functional_forward`` must run its
    ``forward`` (with the states loaded), not the declared LIF step."""
    from sj.base import to_functional_forward

    class Tenfold(neuron.LIFNode):
        def neuronal_charge(self, x):
            self.v = self.v + 10 * x

    node = Tenfold()
    assert node.path() == "charge" and not node.runs_functionally() and neuron.LIFNode().runs_functionally()
    x = torch.full((3,), 0.2)
    (spike,), (v,) = to_functional_forward(node)((x,), (torch.zeros(3),))
    reset_net(node)
    assert torch.equal(spike, node(x)) and spike.tolist() == [1.0, 1.0, 1.0] and torch.equal(v, node.v)
