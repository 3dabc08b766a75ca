"""sj.op_counter's counters against closed forms: spike-driven products, dense products, neurons from their
declarations (both step modes, every CPU backend), scopes, rules, strictness and bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sj.op_counter as oc
from sj import layer, neuron
from sj.backends.registry import status, unsupported_reason
from sj.functional import reset_net
from sj.op_counter import neuron_ops


def spikes(*shape: int, p: float = 0.3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).float()


def run(counters, fn, *args):
    with oc.DispatchCounterMode(counters) as mode:
        out = fn(*args)
    return out, mode


def test_synops_of_spike_linear_and_conv_are_weight_uses():
    x = spikes(4, 10)
    lin = nn.Linear(10, 5)
    syn, mac, ac = oc.SynOpCounter(), oc.MACCounter(), oc.ACCounter()
    run([syn, mac, ac], lin, x)
    assert syn.get_total() == int(x.sum()) * 5 and mac.get_total() == 0 and ac.get_total() == syn.get_total()
    # convolution: for every output position, the ones in its receptive field times the output channels per group
    xc = spikes(2, 4, 7, 7, seed=1)
    for groups, stride, padding in ((1, 1, 1), (2, 2, 0)):
        conv = nn.Conv2d(4, 6, 3, stride=stride, padding=padding, groups=groups, bias=False)
        syn = oc.SynOpCounter()
        run([syn], conv, xc)
        cols = F.unfold(xc.view(2 * groups, 4 // groups, 7, 7), 3, padding=padding, stride=stride)
        assert syn.get_total() == int(cols.sum()) * (6 // groups)


def test_spike_times_spike_counts_coincidences_and_dense_products_are_macs():
    q, k = spikes(2, 5, 8), spikes(2, 8, 6, seed=3)
    syn, mac = oc.SynOpCounter(), oc.MACCounter()
    run([syn, mac], torch.bmm, q, k)
    assert syn.get_total() == int((q @ k).sum()) and mac.get_total() == 0
    a, b = torch.randn(3, 4), torch.randn(4, 5)
    syn, mac, flop = oc.SynOpCounter(), oc.MACCounter(), oc.FlopCounter()
    run([syn, mac, flop], torch.mm, a, b)
    assert (syn.get_total(), mac.get_total(), flop.get_total()) == (0, 3 * 4 * 5, 2 * 3 * 4 * 5)
    flop = oc.FlopCounter()
    run([flop], nn.Linear(4, 5), a)  # addmm: 2MNK products and sums + MN bias additions
    assert flop.get_total() == 2 * 3 * 4 * 5 + 3 * 5


def test_elementwise_additions_of_spikes_count_their_ones():
    a, b = spikes(6, 7), spikes(6, 7, seed=2)
    ac = oc.ACCounter()
    run([ac], torch.add, a, b)
    assert ac.get_total() == int(a.sum() + b.sum())
    ac = oc.ACCounter()
    run([ac], torch.add, a, torch.randn(6, 7))
    assert ac.get_total() == 42


# --------------------------------------------------------------------------------------------------------- neurons
# per neuron and step, a naive evaluation of the declared equations (charge, Z = H − V_th, Θ, reset):
# additions, FLOPs (add, mul, neg, cmp; sigmoid 4)
NEURONS = [
    (lambda **kw: neuron.IFNode(**kw), 0.0, 4, 7),  # v + x | h − v_th, Θ | h·(1 − s) + v_reset·s
    (lambda **kw: neuron.LIFNode(tau=2.0, **kw), 0.0, 6, 10),  # v + (x − (v − v_reset))/τ
    (lambda **kw: neuron.LIFNode(tau=2.0, **kw), None, 5, 8),  # soft reset: h − v_th·s
    (lambda **kw: neuron.LIFNode(tau=2.0, decay_input=False, **kw), 0.0, 6, 10),  # v − (v − v_reset)/τ + x
]


@pytest.mark.parametrize(("make", "v_reset", "adds", "flops"), NEURONS)
def test_neuron_counts_come_from_the_declaration_in_both_step_modes(make, v_reset, adds, flops):
    T, N = 3, 10
    x = torch.rand(T, N) * 2
    totals = []
    for mode in ("m", "s"):
        node = make(v_reset=v_reset, step_mode=mode)
        counters = [oc.ACCounter(), oc.FlopCounter(), oc.NeuronStateCounter(), oc.SynOpCounter(), oc.MACCounter()]
        run(counters, (lambda n=node: n(x)) if mode == "m" else (lambda n=node: [n(t) for t in x]))
        totals.append([c.get_total() for c in counters])
        assert counters[0].get_counts()["LIFNode" if "LIF" in type(node).__name__ else "IFNode"]
    assert totals[0] == totals[1]
    ac, flop, _, syn, mac = totals[0]
    assert (ac, flop, syn, mac) == (adds * T * N, flops * T * N, 0, 0)


def test_parameter_only_operations_run_once_per_step():
    T, N = 4, 6
    node = neuron.ParametricLIFNode(step_mode="m")  # v + (x − (v − v_reset))·sigmoid(w): σ(w) once per step
    flop = oc.FlopCounter()
    run([flop], node, torch.rand(T, N))
    assert flop.get_total() == 10 * T * N + 4 * T


def test_neuron_state_counter_reads_and_writes_every_state_every_step():
    T, N = 5, 3
    node = neuron.IzhikevichNode(step_mode="m")  # states v and w
    c = oc.NeuronStateCounter()
    run([c], node, torch.rand(T, N, dtype=torch.float64))
    m = c.get_metric_counts()["IzhikevichNode"]
    assert m["state_reads"] == m["state_writes"] == T * 2 * N * 8
    assert m["neuron_logical_steps"] == T * N and m["state_comps"] == T * N
    assert m["state_reset_ops"] == 4 * T * N and m["timestep_dense_ops"] > m["state_reset_ops"]
    p = c.get_projection_counts()["IzhikevichNode"]
    assert p["potential_buffer_bytes"] == 2 * N * 8 and p["read_potential"] == m["state_reads"]


def test_every_cpu_backend_is_counted_the_same():
    x = torch.rand(4, 2, 8)
    counts = {}
    for st in status():
        node = neuron.LIFNode(step_mode="m", surrogate_function=neuron.LIFNode.default_surrogate())
        if not st.available or unsupported_reason(st.name, node.spec(), x.device, x.dtype) is not None:
            continue
        node.backend = st.name
        cs = [oc.ACCounter(), oc.FlopCounter(), oc.MemoryAccessCounter(), oc.NeuronStateCounter()]
        run(cs, node, x)
        counts[st.name] = [c.get_total() for c in cs]
    assert "torch" in counts and len(counts) >= 2, counts
    assert all(v == counts["torch"] for v in counts.values()), counts


def test_the_neuron_op_called_directly_is_counted():
    from sj.ops import multistep

    x = torch.rand(3, 5)
    ac = oc.ACCounter()
    run([ac], lambda: multistep("lif", x, [torch.zeros(5)], [1.0, 0.0, 2.0], surrogate="Sigmoid"))
    assert ac.get_total() == 6 * 15 and list(ac.get_counts()["Global"]) == [neuron_ops.NEURON_OP]


def test_operator_profile_of_a_custom_declaration():
    from sj.neuron.declaration import declare

    declare("opcount_test_neuron", "Max(0, v * beta + x) - exp(-v)", params=("beta",))
    kinds = [op.kind for op in neuron_ops.step_profile("opcount_test_neuron", soft_reset=True)]
    assert sorted(kinds) == sorted(["mul", "add", "select", "neg", "nonlinear", "add", "add", "cmp", "add", "mul"])


# ------------------------------------------------------------------------------------------- scopes, modes, rules
class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = layer.Linear(8, 4, step_mode="m")
        self.block = nn.Sequential(neuron.IFNode(step_mode="m"), layer.Linear(4, 2, bias=False, step_mode="m"))

    def forward(self, x):
        return self.block(self.fc(x))


def test_scopes_nest_and_parents_sum_their_children():
    torch.manual_seed(0)
    net, x = Net(), spikes(3, 2, 8)
    syn = oc.SynOpCounter()
    run([syn], net, x)
    scopes = {s: sum(v.values()) for s, v in syn.get_counts().items()}
    assert scopes["Net.fc"] == int(x.sum()) * 4
    assert scopes["Net.block"] == scopes["Net.block.1"]
    assert scopes["Global"] == scopes["Net"] == scopes["Net.fc"] + scopes["Net.block"]


def test_ignored_modules_unsupported_operators_and_strict_mode():
    net, x = Net(), spikes(3, 2, 8)
    syn = oc.SynOpCounter(extra_ignore_modules=[neuron.IFNode, layer.Linear])
    _, mode = run([syn], net, x)
    assert syn.get_total() == 0 and mode.get_unsupported(syn) == {}
    syn = oc.SynOpCounter()
    _, mode = run([syn], torch.relu, torch.randn(3))
    assert mode.get_unsupported(syn) == {"aten.relu.default": 1}
    with pytest.raises(ValueError, match="does not belong"):
        mode.get_unsupported(oc.ACCounter())
    z = torch.randn(3)
    with pytest.raises(NotImplementedError, match=r"aten\.relu\.default has no rule in SynOpCounter"):
        with oc.DispatchCounterMode([oc.SynOpCounter()], strict=True):
            torch.relu(z)
    with pytest.raises(TypeError, match="list of BaseCounter"):
        oc.DispatchCounterMode([object()])


def test_extra_rules_and_function_mode():
    counter = oc.BaseCounter()
    counter.rules = {F.linear: lambda args, kwargs, out: out.numel()}
    with oc.FunctionCounterMode([counter]):
        nn.Linear(3, 2)(torch.randn(5, 3))
    assert counter.get_total() == 10
    relu = oc.SynOpCounter(extra_rules={torch.ops.aten.relu.default: lambda args, kwargs, out: 7})
    run([relu], torch.relu, torch.randn(3))
    assert relu.get_total() == 7
    relu.reset()
    assert relu.get_total() == 0 and relu.get_counts() == {}


def test_module_counter_mode_counts_forward_and_backward_calls():
    class Calls(oc.ModuleCounter):
        def __init__(self) -> None:
            super().__init__()
            self.rules = {("forward", nn.Linear): lambda m, a, k, o: 1, ("backward", nn.Linear): lambda m, a, k, o: 10}

    net, counter = Net(), Calls()
    x = torch.rand(3, 2, 8, requires_grad=True)
    with oc.ModuleCounterMode([counter], model=net):
        net(x).sum().backward()
    counts = counter.get_counts()
    assert counter.get_total() == 22 and counts["Net.fc"] == {("forward", nn.Linear): 1, ("backward", nn.Linear): 10}
    assert not counter.has_rule(("sideways", net.fc)) and not counter.has_rule(net.fc)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        oc.ModuleCounterMode([counter], model="net")


def test_neuromorphic_memory_counter_bytes():
    torch.manual_seed(0)
    net, x = Net(), spikes(3, 2, 8)
    c = oc.NeuromorphicMemoryAccessCounter()
    with oc.ModuleCounterMode([c], model=net):
        hidden = net.fc(x)
        net.block(hidden)
    counts = c.get_counts()
    assert counts["Net.fc"]["weight_read_bytes"] == int(x.sum()) * 4 * 4  # spike fan-out × 4 bytes
    assert counts["Net.fc"]["bias_read_bytes"] == 3 * 2 * 4 * 4
    assert counts["Net.block.0"]["neuron_state_read_bytes"] == counts["Net.block.0"]["neuron_state_write_bytes"] \
        == 3 * 2 * 4 * 4  # T steps × the state v [2, 4] in float32
    assert c.get_total() == sum(counts["Global"].values())


def test_is_binary_tensor():
    assert oc.is_binary_tensor(torch.tensor([0.0, 1.0, 1.0])) and oc.is_binary_tensor(torch.tensor([True, False]))
    assert not oc.is_binary_tensor(torch.tensor([0.0, 0.5]))


def test_counting_leaves_results_and_state_unchanged():
    torch.manual_seed(0)
    net, x = Net(), spikes(3, 2, 8)
    plain = net(x)
    reset_net(net)
    with oc.DispatchCounterMode([oc.ACCounter(), oc.FlopCounter(), oc.NeuronStateCounter()]):
        counted = net(x)
    assert torch.equal(plain, counted)


def test_function_mode_counts_neurons_too():
    T, N = 3, 4
    ac = oc.ACCounter()
    with oc.FunctionCounterMode([ac]):
        neuron.LIFNode(step_mode="m")(torch.rand(T, N))
    assert ac.get_total() == 6 * T * N and list(ac.get_counts()["LIFNode"]) == [torch.ops.sj.multistep_fwd]


def test_neuron_state_counter_on_other_stateful_modules():
    x = torch.rand(3, 2, 4)
    with pytest.warns(RuntimeWarning, match="state updates of SynapseFilter are not counted"):
        run([oc.NeuronStateCounter()], layer.SynapseFilter(step_mode="m"), x)
    with pytest.raises(ValueError, match="SynapseFilter"):
        run([oc.NeuronStateCounter(strict=True)], layer.SynapseFilter(step_mode="m"), x)
    seen = []

    def rule(module, func, args, kwargs, out, keys):
        seen.append(func)
        return {"state_reads": 1}

    c = oc.NeuronStateCounter(extra_state_rules={layer.SynapseFilter: rule})
    run([c], layer.SynapseFilter(step_mode="m"), x)
    assert c.get_metric_counts()["SynapseFilter"]["state_reads"] == len(seen) > 0
    with pytest.raises(TypeError, match="must be callable"):
        oc.NeuronStateCounter(extra_state_rules={layer.SynapseFilter: 3})
    with pytest.raises(ValueError, match="zero_ratio_threshold"):
        oc.NeuronStateCounter(zero_ratio_threshold=1.5)
