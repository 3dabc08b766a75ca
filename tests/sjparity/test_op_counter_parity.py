"""sj.op_counter against SpikingJelly 2.0's ``activation_based.op_counter`` on twin networks.

Each network is built twice from the same sj layers with the same weights and input: once with sj's neurons (counted
by sj) and once with SpikingJelly's (counted by SpikingJelly). SpikingJelly's CPU neurons run their equations as
separate ATen operators, which its counters count one by one; sj counts the same equations from the neuron's
declaration (:mod:`sj.op_counter.neuron_ops`), so SynOps, ACs, MACs and FLOPs agree scope by scope, neurons
included. Memory traffic inside a neuron is implementation-specific (SpikingJelly counts its Python temporaries, sj a
fused kernel's traffic): compared outside the neurons. Counts are integers (exact); energies are sums of the same
products in the same order, compared to 1e-12 relative.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from oracle import spikingjelly
from torch import nn

import sj.op_counter as oc
from sj import layer
from sj import neuron as sjn
from sj.functional import reset_net

COUNTERS = ("SynOpCounter", "ACCounter", "MACCounter", "FlopCounter", "MemoryAccessCounter")


@pytest.fixture(scope="module")
def SJ():
    return spikingjelly("activation_based.op_counter")


@pytest.fixture(scope="module")
def SJN():
    return spikingjelly("activation_based.neuron")


def twins(build, sj_neurons, SJ_neurons):
    """The network built with sj's neurons and with SpikingJelly's, sharing every parameter and buffer value."""
    torch.manual_seed(0)
    ours = build(*sj_neurons)
    theirs = build(*SJ_neurons)
    theirs.load_state_dict(ours.state_dict(), strict=False)  # SpikingJelly's neurons have no state_dict entries
    return ours, theirs


def conv_snn(first, second, step_mode="m"):
    net = nn.Sequential(layer.Conv2d(2, 4, 3, padding=1, step_mode=step_mode),
                        layer.BatchNorm2d(4, step_mode=step_mode), first(step_mode=step_mode),
                        layer.Flatten(step_mode=step_mode),
                        layer.Linear(4 * 6 * 6, 3, step_mode=step_mode), second(step_mode=step_mode))
    with torch.no_grad():
        net[0].weight.mul_(3)
    return net


def lif(module):
    return lambda **kw: module.LIFNode(tau=2.0, **kw)


def if_(module):
    return lambda **kw: module.IFNode(**kw)


X = (torch.rand(3, 2, 2, 6, 6, generator=torch.Generator().manual_seed(1)) < 0.4).float()


def neuron_paths(net: nn.Module) -> list[str]:
    root = type(net).__name__
    return [f"{root}.{p}" for p, m in net.named_modules() if isinstance(m, sjn.BaseNode)]


def count(lib, net, fn, names=COUNTERS):
    counters = [getattr(lib, n)() for n in names]
    with lib.DispatchCounterMode(counters):
        out = fn(net)
    return out, {n: {s: sum(v.values()) for s, v in c.get_counts().items()} for n, c in zip(names, counters)}


def assert_counts_equal(ours, theirs, neurons: list[str]):
    for name in COUNTERS:
        a, b = ours[name], theirs[name]
        inside = [s for s in b if any(s.startswith(f"{n}.") for n in neurons)]  # SpikingJelly's surrogate modules
        assert set(a) == set(b) - set(inside), name
        for scope in a:
            touches_neuron = any(scope == n or n.startswith(f"{scope}.") for n in neurons) or scope == "Global"
            if name == "MemoryAccessCounter" and touches_neuron:
                continue
            assert a[scope] == b[scope], (name, scope)
    assert ours["SynOpCounter"]["Global"] > 0 and ours["ACCounter"]["Global"] > ours["SynOpCounter"]["Global"]


@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_conv_snn_counts(SJ, SJN, step_mode):
    ours, theirs = twins(lambda a, b: conv_snn(a, b, step_mode), (lif(sjn), if_(sjn)), (lif(SJN), if_(SJN)))

    def run(net):
        return net(X) if step_mode == "m" else torch.stack([net(x) for x in X])

    out_a, a = count(oc, ours, run)
    out_b, b = count(SJ, theirs, run)
    assert torch.equal(out_a, out_b)
    assert_counts_equal(a, b, neuron_paths(ours))


def test_spikformer_block_counts(SJ, SJN):
    spikformer = pytest.importorskip("sj.model.spikformer", reason="sj's model zoo is not installed")
    common = pytest.importorskip("sj.model.common", reason="sj's model zoo is not installed")

    def build(neuron_cls):
        factory = common.NeuronFactory(neuron_cls, tau=2.0, detach_reset=True)
        return spikformer.SpikformerBlock(16, 2, 2.0, factory)

    ours, theirs = twins(build, (sjn.LIFNode,), (SJN.LIFNode,))
    tokens = (torch.rand(2, 2, 5, 16, generator=torch.Generator().manual_seed(3)) < 0.5).float()
    out_a, a = count(oc, ours, lambda net: net(tokens))
    out_b, b = count(SJ, theirs, lambda net: net(tokens))
    assert torch.equal(out_a, out_b) and out_a.abs().sum() > 0
    assert_counts_equal(a, b, neuron_paths(ours))
    assert a["SynOpCounter"]["SpikformerBlock.attn"] > 0  # spike × spike products of Q, K and V


def test_sew_resnet_counts(SJ, SJN):
    """SEW ResNet-18 (ADD). Its deeper layers are silent at this size: a neuron then receives exact zeros, and
    SpikingJelly counts an addition of two 0/1 tensors as their ones (``v + x`` with both zero: none), whereas sj
    counts a neuron's update for every neuron at every step. Neurons fed any other value count the same."""
    resnet = pytest.importorskip("sj.model.resnet", reason="sj's model zoo is not installed")
    ours, theirs = twins(lambda n: resnet.sew_resnet18(cnf="ADD", num_classes=10, neuron=n), (sjn.IFNode,),
                         (SJN.IFNode,))
    spikingjelly("activation_based.functional").set_step_mode(theirs, "m")  # the zoo sets sj modules' step modes only
    binary_input = {}
    for path, m in theirs.named_modules():
        if isinstance(m, SJN.IFNode):
            m.register_forward_hook(lambda mod, args, out, p=path: binary_input.__setitem__(
                f"SpikingResNet.{p}", bool(((args[0] == 0) | (args[0] == 1)).all())))
    x = torch.rand(2, 1, 3, 16, 16, generator=torch.Generator().manual_seed(4)) * 4
    names = ("SynOpCounter", "ACCounter", "MACCounter")
    out_a, a = count(oc, ours, lambda net: net(x), names)
    out_b, b = count(SJ, theirs, lambda net: net(x), names)
    assert torch.equal(out_a, out_b)
    assert a["SynOpCounter"] == b["SynOpCounter"] and a["MACCounter"] == b["MACCounter"]
    neurons = neuron_paths(ours)
    assert not all(binary_input.values()) and set(binary_input) == set(neurons)

    def own(counts: dict[str, int], scope: str) -> int:  # the scope's count without its neurons'
        return counts[scope] - sum(counts.get(n, 0) for n in neurons if n.startswith(f"{scope}."))

    ac_a, ac_b = a["ACCounter"], b["ACCounter"]
    assert set(ac_a) == set(ac_b)
    for scope in ac_a:
        if scope in binary_input:
            assert ac_a[scope] == ac_b[scope] if not binary_input[scope] else ac_a[scope] > ac_b[scope], scope
        elif scope != "Global":
            assert own(ac_a, scope) == own(ac_b, scope), scope
    assert ac_a["SpikingResNet.layer1.0"] > a["SynOpCounter"]["SpikingResNet.layer1.0"] > 0


def test_simple_energy(SJ, SJN):
    ours, theirs = twins(conv_snn, (lif(sjn), if_(sjn)), (lif(SJN), if_(SJN)))
    r_ours = oc.estimate_simple_energy(ours, X)
    r_theirs = SJ.estimate_simple_energy(theirs, X)
    spikingjelly("activation_based.functional").reset_net(theirs)
    ac = SJ.ACCounter()
    with SJ.DispatchCounterMode([ac]), torch.no_grad():
        theirs(X)
    # SpikingJelly 2.0's profiler also counts the additions of its own bookkeeping (its memory counter's spike
    # counting runs inside the counting mode): sj's AC is SpikingJelly's ACCounter alone, the energy less that excess
    excess = r_theirs.counts["ac"] - ac.get_total()
    assert excess >= 0
    assert r_ours.counts == {**r_theirs.counts, "ac": ac.get_total()}
    assert r_ours.energy_total_pj == pytest.approx(r_theirs.energy_total_pj - 0.9 * excess, rel=1e-12)
    assert r_ours.breakdown_pj["memory_pj"] == pytest.approx(r_theirs.breakdown_pj["memory_pj"], rel=1e-12)
    assert r_ours.model_info == oc.EnergyModelInfo(**vars(r_theirs.model_info))
    for preset in ("fp32", "fp16", "int8"):
        assert vars(getattr(oc.SimpleEnergyCostConfig, preset)()) == vars(getattr(SJ.SimpleEnergyCostConfig, preset)())


def test_neuromorphic_memory_access_counter(SJ, SJN):
    ours, theirs = twins(conv_snn, (lif(sjn), if_(sjn)), (lif(SJN), if_(SJN)))
    results = []
    for lib, net in ((oc, ours), (SJ, theirs)):
        counter = lib.NeuromorphicMemoryAccessCounter()
        with lib.ModuleCounterMode([counter], model=net), torch.no_grad():
            net(X)
        results.append(counter.get_counts())
    assert results[0] == results[1]


def lemaire_net(first, second):
    net = nn.Sequential(layer.Conv2d(2, 4, 3, padding=1, step_mode="m"), first(step_mode="m"),
                        layer.Conv2d(4, 4, 3, stride=2, step_mode="m"), second(step_mode="m"))
    with torch.no_grad():
        net[0].weight.mul_(3)
    return net


def test_lemaire_and_spikesim(SJ, SJN):
    ours, theirs = twins(lemaire_net, (lif(sjn), if_(sjn)), (lif(SJN), if_(SJN)))
    a, b = oc.estimate_lemaire_energy(ours, X), SJ.estimate_lemaire_energy(theirs, X)
    assert a.counts == b.counts and a.buffer_sizes_bytes == b.buffer_sizes_bytes and a.counts["synop"] > 0
    assert a.breakdown_pj == pytest.approx(b.breakdown_pj, rel=1e-12)
    assert a.total_pj == pytest.approx(b.total_pj, rel=1e-12)
    SJF = spikingjelly("activation_based.functional")
    ours.eval()
    theirs.eval()
    for mode in ("dense", "event"):
        reset_net(ours)
        SJF.reset_net(theirs)
        a = oc.estimate_spikesim_energy(ours, X, config=oc.SpikeSimEnergyConfig(activity_mode=mode))
        b = SJ.estimate_spikesim_energy(theirs, X, config=SJ.SpikeSimEnergyConfig(activity_mode=mode))
        assert a.event_stats_by_stage == b.event_stats_by_stage and a.stage_metadata == b.stage_metadata
        assert a.counts == b.counts and a.energy_total_pj == pytest.approx(b.energy_total_pj, rel=1e-12)
        assert a.energy_by_component["totals"] == pytest.approx(b.energy_by_component["totals"], rel=1e-12)
    config, theirs_config = oc.SpikeSimEnergyConfig(device="sram"), SJ.SpikeSimEnergyConfig(device="sram")
    assert config.pe_cycle_energy_for_kernel_pj((3, 3)) == theirs_config.pe_cycle_energy_for_kernel_pj((3, 3))
    assert config.xbar_row_energy_pj(40) == theirs_config.xbar_row_energy_pj(40)


def assert_neuromc_equal(a, b):
    assert a.mapping_summary == b.mapping_summary and a.primitive_counts == b.primitive_counts
    assert a.memory_bits_by_level == b.memory_bits_by_level and a.counts_by_core_type == b.counts_by_core_type
    for field in ("energy_total_pj", "energy_compute_pj", "energy_memory_pj", "energy_mac_pj",
                  "energy_base_memory_pj", "energy_extra_memory_pj", "energy_extra_compute_pj"):
        assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-12), field
    assert a.energy_by_stage == pytest.approx(b.energy_by_stage, rel=1e-12)


def test_neuromc_snn_inference(SJ, SJN):
    ours, theirs = twins(conv_snn, (lif(sjn), if_(sjn)), (lif(SJN), if_(SJN)))
    assert_neuromc_equal(oc.estimate_neuromc_runtime_energy(ours, X), SJ.estimate_neuromc_runtime_energy(theirs, X))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_neuromc_training_iteration(SJ, optimizer):
    """Forward, backward and optimizer step. A dense network: SpikingJelly 2.0 refuses the backward of its own CPU
    neurons (``aten.neg`` of their surrogate gradients is not a NeuroMC operator); sj maps a spiking network's
    backward too (tests/ops/test_op_counter_energy.py)."""
    def build():
        torch.manual_seed(0)
        return nn.Sequential(layer.Conv2d(2, 4, 3, padding=1, step_mode="m"), layer.BatchNorm2d(4, step_mode="m"),
                             layer.Flatten(step_mode="m"), layer.Linear(4 * 6 * 6, 3, step_mode="m"))

    reports = []
    for lib, net in ((oc, build()), (SJ, build())):
        opt = (torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4) if optimizer == "sgd"
               else torch.optim.Adam(net.parameters()))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
            reports.append(lib.estimate_neuromc_runtime_energy(net, X, target=torch.zeros(3, 2, 3),
                                                               loss_fn=nn.functional.mse_loss, optimizer=opt))
    assert_neuromc_equal(*reports)
    assert {f["phase"] for f in reports[0].mapping_summary} == {"forward", "backward", "optimizer"}


def test_configs_and_helpers_match(SJ):
    for x in (torch.tensor([0.0, 1.0]), torch.tensor([True]), torch.tensor([0.5]), torch.tensor([-0.0, 1.0])):
        assert oc.is_binary_tensor(x) == SJ.is_binary_tensor(x)
    ours, theirs = oc.MemoryHierarchyConfig(), SJ.MemoryHierarchyConfig()
    assert {k: tuple(vars(v).values()) for k, v in ours.memory_instances.items()} == {
        k: tuple(vars(v).values()) for k, v in theirs.memory_instances.items()}
    assert (ours.preset_name, ours.technology_nm) == (theirs.preset_name, theirs.technology_nm)
    a, b = oc.LemaireEnergyCostConfig(), SJ.LemaireEnergyCostConfig()
    assert a.memory_breakpoints == b.memory_breakpoints
    assert [a.memory_cost_pj(m) for m in (0, 5000, 20000, 5e5, 1e7)] == [b.memory_cost_pj(m) for m in
                                                                        (0, 5000, 20000, 5e5, 1e7)]
