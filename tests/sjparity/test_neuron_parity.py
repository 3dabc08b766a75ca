"""sj.neuron, sj.base and sj.functional's neuron steps against SpikingJelly 2.0.0: checkpoints written by SpikingJelly
load strictly into the sj twin and compute the same; every neuron, in both step modes where SpikingJelly has them,
gives the same outputs, input gradients and parameter gradients (max |diff| ≤ 1e-5; float64 unless said otherwise).

Where SpikingJelly 2.0 is wrong sj is tested against a closed form instead (docs/migrating.md lists these).
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from oracle import spikingjelly
from torch import nn

from sj import base, layer, neuron, surrogate
from sj import functional as F

ATOL = 1e-5
T, N, C = 4, 2, 3


@pytest.fixture(scope="module")
def sj2():
    """SpikingJelly's modules used here, by short name."""
    return {name: spikingjelly(f"activation_based.{name}")
            for name in ("neuron", "base", "functional", "surrogate", "layer")}


def close(a, b, what: str = "", atol: float = ATOL) -> None:
    """``max |a − b| ≤ atol`` for tensors or nested lists/tuples of them, shapes equal."""
    if isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{what}: {type(a)} vs {type(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{what}[{i}]", atol)
        return
    if a is None or b is None:
        assert a is None and b is None, f"{what}: one is None"
        return
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    if a.numel():
        diff = (a.detach().double() - b.detach().double()).abs().max().item()
        assert diff <= atol, f"{what}: max |diff| = {diff:g} > {atol:g}"


def inputs(shape=(T, N, C), seed: int = 0, scale: float = 1.5, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * scale * 2 - scale * 0.5).to(dtype)


def run(module, x: torch.Tensor, mode: str):
    """Call ``module`` on ``x`` ``[T, ...]`` in ``mode`` (``'s'``: step by step, outputs stacked)."""
    if mode == "m":
        return module(x)
    steps = [module(xt) for xt in x]
    if isinstance(steps[0], tuple | list):
        return type(steps[0])(torch.stack(s) for s in zip(*steps))
    return torch.stack(steps)


def outputs_and_grads(module, x: torch.Tensor, mode: str, seed: int = 1):
    """``(output, grad of x, {parameter name: grad})`` of a random-cotangent loss on ``module`` run in ``mode``."""
    x = x.clone().requires_grad_(True)
    y = run(module, x, mode)
    leaves = [t for t in (y if isinstance(y, tuple | list) else [y]) if isinstance(t, torch.Tensor)]
    g = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.rand(t.shape, generator=g, dtype=t.dtype)).sum() for t in leaves if t.requires_grad)
    grads = {}
    if isinstance(loss, torch.Tensor):
        loss.backward()
        grads = {n: p.grad for n, p in module.named_parameters() if p.grad is not None}
    return y, x.grad, grads


def set_mode(module: nn.Module, mode: str) -> None:
    for m in module.modules():
        if hasattr(m, "step_mode") and "m" in getattr(m, "supported_step_mode", lambda: ("s", "m"))():
            m.step_mode = mode


def compare(sj_module, sj2_module, x: torch.Tensor, modes=("s", "m"), what: str = "", atol: float = ATOL,
            copy_state: bool = True) -> None:
    """Run both modules (SpikingJelly's parameters copied into sj's) in each mode from a fresh state and compare
    outputs, input gradients and parameter gradients."""
    if copy_state:
        sj_module.load_state_dict(sj2_module.state_dict())
    for mode in modes:
        a, b = copy.deepcopy(sj_module), copy.deepcopy(sj2_module)
        set_mode(a, mode)
        set_mode(b, mode)
        ya, ga, pa = outputs_and_grads(a, x, mode)
        yb, gb, pb = outputs_and_grads(b, x, mode)
        close(ya, yb, f"{what} {mode} output", atol)
        close(ga, gb, f"{what} {mode} input grad", atol)
        assert pa.keys() == pb.keys(), f"{what} {mode}: parameter grads {sorted(pa)} vs {sorted(pb)}"
        for n in pa:
            close(pa[n], pb[n], f"{what} {mode} grad of {n}", atol)


# ------------------------------------------------------------------------------------------------ 1. checkpoints
def _same_surrogate(sj2, kind: str, **kw):
    return getattr(surrogate, kind)(**kw), getattr(sj2["surrogate"], kind)(**kw)


# name → (sj constructor, SpikingJelly constructor): every SpikingJelly neuron sj builds from the same arguments
def _pairs(sj2):
    n2 = sj2["neuron"]
    atan, atan2 = _same_surrogate(sj2, "ATan", alpha=3.0)
    return {
        "IFNode": (lambda: neuron.IFNode(v_threshold=0.8, surrogate_function=atan),
                   lambda: n2.IFNode(v_threshold=0.8, surrogate_function=atan2)),
        "IFNode-soft-detach": (lambda: neuron.IFNode(v_reset=None, detach_reset=True),
                               lambda: n2.IFNode(v_reset=None, detach_reset=True)),
        "LIFNode": (lambda: neuron.LIFNode(3.0, False, 0.9, -0.1), lambda: n2.LIFNode(3.0, False, 0.9, -0.1)),
        "ParametricLIFNode": (lambda: neuron.ParametricLIFNode(3.0), lambda: n2.ParametricLIFNode(3.0)),
        "QIFNode": (lambda: neuron.QIFNode(), lambda: n2.QIFNode()),
        "EIFNode": (lambda: neuron.EIFNode(), lambda: n2.EIFNode()),
        "IzhikevichNode": (lambda: neuron.IzhikevichNode(), lambda: n2.IzhikevichNode()),
        "IzhikevichNode-adapting": (lambda: neuron.IzhikevichNode(2.5, 0.7, 1.2, 1.0, 0.0, -0.1, 0.2, 3.0, 0.4, 0.3),
                                    lambda: n2.IzhikevichNode(2.5, 0.7, 1.2, 1.0, 0.0, -0.1, 0.2, 3.0, 0.4, 0.3)),
        "KLIFNode": (lambda: neuron.KLIFNode(), lambda: n2.KLIFNode()),
        "KLIFNode-scale-reset": (lambda: neuron.KLIFNode(True, 2.5, False), lambda: n2.KLIFNode(True, 2.5, False)),
        "CUBALIFNode": (lambda: neuron.CUBALIFNode(), lambda: n2.CUBALIFNode()),
        "CUBALIFNode-args": (lambda: neuron.CUBALIFNode(0.3, 0.9, 0.4, None),
                             lambda: n2.CUBALIFNode(0.3, 0.9, 0.4, None)),
        "RAFNode": (lambda: neuron.RAFNode(-0.3, 1.3, 0.8, 0.6), lambda: n2.RAFNode(-0.3, 1.3, 0.8, 0.6)),
        "HalfThresholdIFNode": (lambda: neuron.HalfThresholdIFNode(0.7), lambda: n2.HalfThresholdIFNode(0.7)),
        "SimpleIFNode": (lambda: neuron.SimpleIFNode(), lambda: n2.SimpleIFNode()),
        "SimpleLIFNode": (lambda: neuron.SimpleLIFNode(2.5, False, 0.9, -0.2),
                          lambda: n2.SimpleLIFNode(2.5, False, 0.9, -0.2)),
    }


def _net(lay, node):
    """A small convolutional SNN around ``node`` (SpikingJelly's or sj's layers)."""
    return nn.Sequential(lay.Conv2d(1, 2, 3, padding=1), lay.BatchNorm2d(2), node(), lay.Flatten(),
                         lay.Linear(2 * 3 * 3, 3), node())


def test_sj_checkpoints_load_strictly_into_sj_nets_and_compute_the_same(sj2):
    torch.manual_seed(0)
    x = inputs((T, N, 1, 3, 3), scale=2.0).float()
    for name, (mine, theirs) in _pairs(sj2).items():
        net2 = _net(sj2["layer"], theirs)
        sj2["functional"].set_step_mode(net2, "m")
        net2.train()
        net2(x)  # BatchNorm statistics move, so the checkpoint is not the initial state
        sj2["functional"].reset_net(net2)
        net2.eval()
        sd = net2.state_dict()
        net = _net(layer, mine)
        net.load_state_dict(sd)  # strict: every key of SpikingJelly's checkpoint fits, none is missing
        net.eval()
        F.set_step_mode(net, "m")
        close(net(x), net2(x), name)
        # and sj's own checkpoint (with the optional entries) round-trips into a fresh sj net
        F.reset_net(net)
        sj2["functional"].reset_net(net2)
        again = _net(layer, mine)
        again.load_state_dict(net.state_dict())
        again.eval()
        F.set_step_mode(again, "m")
        close(again(x), net2(x), f"{name} (sj round trip)")


def test_sj_checkpoints_of_nets_with_the_other_neurons(sj2):
    def net(n, lay):
        torch.manual_seed(0)
        return nn.Sequential(lay.Linear(C, 4), n.MPBNLIFNode(out_features=4, step_mode="m"), lay.Linear(4, 4),
                             n.PSN(T), lay.Linear(4, 4), n.SlidingPSN(2, False, step_mode="m"), lay.Linear(4, 4),
                             n.DSRIFNode(T, 1.0), lay.Linear(4, 4), n.TernaryLIFNode(step_mode="m"))

    theirs = net(sj2["neuron"], sj2["layer"])
    theirs(inputs().float())  # statistics move
    sj2["functional"].reset_net(theirs)
    mine = net(neuron, layer)
    mine.load_state_dict(theirs.state_dict())
    x = inputs(seed=5).float()
    close(mine(x), theirs(x), "net of other neurons")


# ---------------------------------------------------------------------------------------- 2. subclassing interface
def _charge_override(base_cls):
    """A SpikingJelly-style subclass overriding neuronal_charge (a tanh-leaky membrane)."""

    class Custom(base_cls):
        def neuronal_charge(self, x):
            self.v = self.v + (torch.tanh(x) - 0.3 * self.v) / 2.0

    return Custom


def test_simple_node_subclass_overriding_neuronal_charge(sj2):
    x = inputs()
    compare(_charge_override(neuron.SimpleBaseNode)(v_reset=None), _charge_override(sj2["neuron"].SimpleBaseNode)(
        v_reset=None), x, what="SimpleBaseNode subclass")
    compare(_charge_override(neuron.SimpleBaseNode)(detach_reset=True, v_reset=-0.2),
            _charge_override(sj2["neuron"].SimpleBaseNode)(detach_reset=True, v_reset=-0.2), x,
            what="SimpleBaseNode subclass, hard reset")


@pytest.mark.parametrize("cls", ["IFNode", "LIFNode", "CUBALIFNode", "IzhikevichNode"])
def test_declared_neuron_subclass_overriding_neuronal_charge_runs_the_override(sj2, cls):
    # SpikingJelly 2.0's fused neurons ignore a neuronal_charge override (their step is functional); sj runs it, with
    # the neuron's own fire and reset: the reference is SpikingJelly's SimpleBaseNode with the same charge
    sg, sg2 = _same_surrogate(sj2, "Sigmoid", alpha=3.0)
    node = _charge_override(getattr(neuron, cls))(v_threshold=0.8, v_reset=0.0, surrogate_function=sg)
    ref = _charge_override(sj2["neuron"].SimpleBaseNode)(v_threshold=0.8, v_reset=0.0, surrogate_function=sg2)
    assert node.path() == "charge"
    compare(node, ref, inputs(), what=f"{cls} subclass", copy_state=False)


def _functional_module(base_module):
    """A stateful module written against SpikingJelly 2.0's explicit-state protocol (an exponential trace)."""

    class Trace(base_module):
        def __init__(self, decay: float = 0.5):
            super().__init__()
            self.decay = decay
            self.register_memory("trace", 0.0)

        def single_step_functional_forward(self, inputs, states, **kwargs):
            trace = states[0] * self.decay + inputs[0]
            return (torch.sigmoid(trace),), (trace,)

    return Trace


def test_memory_module_subclass_with_functional_forward(sj2):
    x = inputs()
    mine, theirs = _functional_module(base.MemoryModule)(0.6), _functional_module(sj2["base"].MemoryModule)(0.6)
    compare(mine, theirs, x, what="MemoryModule functional subclass")
    # explicit state through to_functional_forward, and memories in and out
    for m in (mine, theirs):
        m.step_mode = "m"
    f, f2 = base.to_functional_forward(mine), sj2["base"].to_functional_forward(theirs)
    state = (torch.full((N, C), 0.25, dtype=torch.float64),)
    close(f((x,), state), f2((x,), state), "to_functional_forward")
    assert isinstance(mine.trace, float)  # the module's memory was not touched


def test_base_node_subclass_with_sj2_signature_and_functional_step(sj2):
    def make(base_node):
        class Leaky(base_node):
            def single_step_functional_forward(self, inputs, states, **kwargs):
                h = 0.5 * states[0] + inputs[0]
                spike = self.surrogate_function(h - self.v_threshold)
                return (spike,), (h - spike * self.v_threshold if self.v_reset is None else h * (1 - spike),)

        return Leaky

    sg, sg2 = _same_surrogate(sj2, "Sigmoid", alpha=3.0)
    mine = make(neuron.BaseNode)(0.7, None, sg)
    compare(mine, make(sj2["neuron"].BaseNode)(0.7, None, sg2), inputs(), what="BaseNode subclass")
    assert mine.path() == "functional" and mine.state_dict().keys() == {"_extra_state"}


def test_network_memories_and_to_functional_forward(sj2):
    x = inputs()

    def net(n, lay):
        return nn.Sequential(lay.Linear(C, C), n.LIFNode(step_mode="m"), lay.Linear(C, C), n.IzhikevichNode(
            step_mode="m", a=0.3, b=0.2))

    torch.manual_seed(0)
    mine, theirs = net(neuron, layer).double(), net(sj2["neuron"], sj2["layer"]).double()
    mine.load_state_dict(theirs.state_dict())
    close(mine(x), theirs(x), "forward")
    assert [n for n, _ in base.named_memories(mine)] == [n for n, _ in sj2["base"].named_memories(theirs)]
    close(base.extract_memories(mine), sj2["base"].extract_memories(theirs), "extract_memories")
    states = base.extract_memories(mine)
    F.reset_net(mine)
    base.load_memories(mine, states)
    close(list(base.memories(mine)), list(sj2["base"].memories(theirs)), "load_memories")
    f, f2 = base.to_functional_forward(mine), sj2["base"].to_functional_forward(theirs)
    (ya,), sa = f((x,), states)
    (yb,), sb = f2((x,), states)
    close(ya, yb, "functional output")
    close(sa, sb, "functional states")
    with pytest.raises(ValueError, match="expects 3 states, got 1"):
        f((x,), states[:1])


def test_step_module_classes(sj2):
    class Seq(nn.Module, base.MultiStepModule):
        pass

    assert Seq().step_mode == "m" and base.SingleStepModule().supported_step_mode() == ("s",)
    with pytest.raises(ValueError, match="supports step modes"):
        Seq().step_mode = "s"


# ------------------------------------------------------------------------------------------------ 3. semantics
@pytest.mark.parametrize("name", ["IFNode", "IFNode-soft-detach", "LIFNode", "ParametricLIFNode", "QIFNode",
                                  "EIFNode", "IzhikevichNode", "IzhikevichNode-adapting", "KLIFNode",
                                  "KLIFNode-scale-reset", "CUBALIFNode", "CUBALIFNode-args", "RAFNode",
                                  "HalfThresholdIFNode", "SimpleIFNode", "SimpleLIFNode"])
def test_neuron_matches_sj2_in_both_step_modes(sj2, name):
    mine, theirs = _pairs(sj2)[name]
    x = inputs(scale=0.6 if name.startswith(("QIF", "EIF", "Izhikevich")) else 1.5)
    compare(mine().double(), theirs().double(), x, what=name)


def test_lif_float32_matches_sj2_kernels(sj2):
    compare(neuron.LIFNode(2.5, v_reset=None), sj2["neuron"].LIFNode(2.5, v_reset=None), inputs(dtype=torch.float32),
            what="LIF float32")


def test_sj2_defaults_and_argument_order(sj2):
    n2 = sj2["neuron"]
    izh, izh2 = neuron.IzhikevichNode(), n2.IzhikevichNode()
    assert (izh.a.item(), izh.b.item(), izh.w_rest) == (izh2.a, izh2.b, izh2.w_rest) == (0.0, 0.0, 0.0)
    klif, klif2 = neuron.KLIFNode(True, 3.0, False), n2.KLIFNode(True, 3.0, False)
    assert (klif.scale_reset, klif.tau.item(), klif.decay_input) == (klif2.scale_reset, klif2.tau, klif2.decay_input)
    cuba = neuron.CUBALIFNode(0.2, 0.3, 0.4, -0.1)
    assert [cuba.c_decay.item(), cuba.v_decay.item(), cuba.v_threshold.item(), cuba.v_reset.item()] == \
        pytest.approx([0.2, 0.3, 0.4, -0.1])
    assert type(neuron.CUBALIFNode().surrogate_function) is surrogate.Rect


def test_cuba_decays_are_the_fraction_kept(sj2):
    node = neuron.CUBALIFNode(c_decay=0.5, v_decay=0.25, v_threshold=100.0, step_mode="m").double()
    x = torch.tensor([[1.0], [0.0], [0.0]], dtype=torch.float64)
    node(x)
    c = [1.0, 0.5, 0.25]
    v = [1.0, 1.0 * 0.25 + 0.5, (1.0 * 0.25 + 0.5) * 0.25 + 0.25]
    assert node.c.item() == c[-1] and node.v.item() == pytest.approx(v[-1])


@pytest.mark.parametrize("decode", [None, "max-mem", "max-abs-mem", "mean-mem", "last_mem"])
def test_non_spiking_nodes_match_sj2(sj2, decode):
    x = inputs(scale=1.0) - 0.4

    def listed(module):  # SpikingJelly returns a list of T tensors without decode; sj the stacked tensor
        class Stacked(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = module

            def forward(self, x):
                y = self.inner(x)
                return torch.stack(y) if isinstance(y, list) else y

        return Stacked()

    compare(neuron.NonSpikingLIFNode(3.0, decode).double(), listed(sj2["neuron"].NonSpikingLIFNode(3.0, decode)), x,
            modes=("m",), what=f"NonSpikingLIF {decode}", copy_state=False)
    compare(neuron.NonSpikingIFNode(decode).double(), listed(sj2["neuron"].NonSpikingIFNode(decode)), x,
            modes=("m",), what=f"NonSpikingIF {decode}", copy_state=False)


def test_non_spiking_sequence_starts_from_rest_each_call():
    node = neuron.NonSpikingLIFNode(2.0, "last-mem")
    x = torch.rand(3, 2, 4)
    assert torch.equal(node(x), node(x))  # no reset_net needed, as in SpikingJelly
    assert node(torch.rand(3, 5, 4)).shape == (5, 4)  # another batch size
    with pytest.raises(ValueError, match="decode must be one of"):
        neuron.NonSpikingIFNode("max")


def test_liaf_is_act_of_h_in_both_modes(sj2):
    # single step equals SpikingJelly's; SpikingJelly's multi-step mode returns spikes (wrong): sj returns act(H)
    mine, theirs = neuron.LIAFNode(torch.tanh, True, 2.0).double(), sj2["neuron"].LIAFNode(torch.tanh, True, 2.0)
    x = inputs()
    compare(mine, theirs, x, modes=("s",), what="LIAF")
    single = run(copy.deepcopy(mine), x, "s")
    mine.step_mode = "m"
    close(mine(x), single, "LIAF multi-step = single-step")


# --------------------------------------------------------------------------------- value checks on every path
@pytest.mark.parametrize("bad", [0.5, math.nan])
def test_load_state_dict_and_assignment_check_values(bad):
    node = neuron.LIFNode(tau=3.0)
    sd = node.state_dict()
    sd["tau"] = torch.tensor(bad)
    with pytest.raises(ValueError, match="tau must"):
        node.load_state_dict(sd)
    with pytest.raises(ValueError, match="tau must"):
        node.tau = bad
    assert node.tau.item() == 3.0
    node.tau = 4
    assert node.tau.item() == 4.0 and node.tau.dtype == torch.float32
    with pytest.raises(ValueError, match="c_decay must be in"):
        neuron.CUBALIFNode().c_decay = 1.5


def test_assigning_v_reset_switches_reset_mode():
    node = neuron.IFNode(step_mode="m")
    node.v_reset = None
    assert node.soft_reset and "v_reset" not in node.state_dict()
    assert node(torch.full((1, 1), 1.5)).item() == 1.0 and node.v.item() == pytest.approx(0.5)
    node.v_reset = -0.25
    F.reset_net(node)
    node(torch.full((1, 1), 1.5))
    assert not node.soft_reset and node.v.item() == -0.25


# --------------------------------------------------------------------------------------- 5. functional neuron steps
def _sg_pair(sj2):
    return _same_surrogate(sj2, "Sigmoid", alpha=3.0)


def _step_cases(sj2):
    """name → (args after the inputs, number of state tensors); the same for both libraries except surrogates."""
    sg, sg2 = _sg_pair(sj2)
    return {
        "if_step": (lambda s: (0.9, 0.0, s, False), 1),
        "lif_step": (lambda s: (2.5, False, 0.9, None, s, True), 1),
        "plif_step": (lambda s: (torch.tensor(0.3, dtype=torch.float64, requires_grad=True), True, 1.0, 0.0, s), 1),
        "qif_step": (lambda s: (2.0, 1.0, 0.0, 0.8, 1.0, -0.1, s), 1),
        "eif_step": (lambda s: (2.0, 1.0, 0.8, 0.0, 1.0, -0.1, s), 1),
        "izhikevich_step": (lambda s: (2.0, 1.0, -0.1, 0.8, 2.0, 0.3, 0.2, 1.0, 0.0, s), 2),
        "raf_step": (lambda s: (-0.2, 1.0, 1.0, 1.0, 0.0, s), 2),
        "klif_step": (lambda s: (torch.tensor(1.3, dtype=torch.float64, requires_grad=True), 2.0, True, True, 1.0,
                                 0.0, s), 1),
        "cuba_lif_step": (lambda s: (0.5, 0.75, 0.5, 0.0, s), 2),
        "liaf_step": (lambda s: (2.0, True, 1.0, 0.0, torch.tanh, True, s), 1),
        "ternary_if_step": (lambda s: (1.0, None, s), 1),
        "ternary_lif_step": (lambda s: (2.0, True, 1.0, 0.0, s, True), 1),
        "clif_step": (lambda s: (2.0, 1.0, s), 2),
        "activation_aware_if_step": (lambda s: (torch.tensor(0.9, dtype=torch.float64), torch.tensor(
            0.1, dtype=torch.float64), None, s), 1),
    }, (sg, sg2)


def test_functional_steps_match_sj2(sj2):
    cases, (sg, sg2) = _step_cases(sj2)
    x = inputs()
    for name, (args, n_states) in cases.items():
        got = []
        for fn, s in ((getattr(F, name), sg), (getattr(sj2["functional"], name), sg2)):
            xs = x.clone().requires_grad_(True)
            states = [torch.full((N, C), 0.1 * (i + 1), dtype=torch.float64) for i in range(n_states)]
            extra = args(s)
            outs = []
            for xt in xs:
                out, *states = fn(xt, *states, *extra)
                outs.append(out)
            y = torch.stack(outs)
            (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view(y.shape)).sum().backward()
            params = [a.grad for a in extra if isinstance(a, torch.Tensor) and a.requires_grad]
            got.append((y, states, xs.grad, params))
        close(got[0], got[1], name)


def test_functional_multi_steps_match_sj2(sj2):
    sg, sg2 = _sg_pair(sj2)
    x = inputs()
    v0 = torch.full((N, C), 0.1, dtype=torch.float64)
    cases = {
        "if_multi_step": lambda f, s: f(x, v0, 0.9, None, s, False, True),
        "lif_multi_step": lambda f, s: f(x, v0, 2.5, False, 0.9, 0.0, s, True, True),
        "plif_multi_step": lambda f, s: f(x, v0, torch.tensor(0.2, dtype=torch.float64), True, 1.0, 0.0, s),
        "qif_multi_step": lambda f, s: f(x * 0.5, v0, 2.0, 1.0, -0.1, 0.0, 0.8, 1.0, False, s, True),
        "eif_multi_step": lambda f, s: f(x * 0.5, v0, 2.0, 1.0, -0.1, 0.0, 0.8, 1.0, False, s, True),
        "izhikevich_multi_step": lambda f, s: f(x * 0.5, v0, v0 * 0, 2.0, 1.0, 0.0, -0.1, 0.3, 0.2, 2.0, 0.8, 1.0,
                                                False, s, True),
        "ilif_multi_step": lambda f, s: f(x * 3, v0, 2.0, 1.0, None, False, True),
    }
    for name, call in cases.items():
        mine, theirs = call(getattr(F, name), sg), call(getattr(sj2["functional"], name), sg2)
        close(mine, theirs, name)
        if name != "ilif_multi_step":  # and the fused op agrees with the step loop (sj's surrogate both times)
            close(call(getattr(F, name), sg), call(getattr(F, name), lambda z, sg=sg: sg(z)), f"{name} fused/loop")


def test_functional_helpers_match_sj2(sj2):
    x, v, s = inputs()[0], inputs(seed=2)[0], (inputs(seed=3)[0] > 0.5).double()
    for args in ((1.0, None, False), (1.0, -0.2, True)):
        close(F.voltage_reset(v, s, *args), sj2["functional"].voltage_reset(v, s, *args), "voltage_reset")
    close(F.lif_charge(x, v, 2.0, False, 0.1), sj2["functional"].lif_charge(x, v, 2.0, False, 0.1), "lif_charge")
    q = torch.full((N, C), 0.5)
    args = (torch.tensor(0.5), torch.tensor(3.0), torch.tensor(0.0))
    close(F.stbif_multi_step(inputs().float(), q, q * 0, *args),
          sj2["functional"].stbif_multi_step(inputs().float(), q, q * 0, *args), "stbif_multi_step")
    assert F.neuron_implementation("lif", torch.device("cpu"))["implementation"][0] == "torch"


# ------------------------------------------------------------------------------------ 4. the rest of the neurons
def test_ternary_neurons(sj2):
    n2 = sj2["neuron"]
    x = inputs(scale=2.0) - 1.0
    for args in ((1.0, 0.0), (0.8, None)):
        compare(neuron.TernaryIFNode(*args, detach_reset=True), n2.TernaryIFNode(*args, detach_reset=True), x,
                what=f"TernaryIF{args}")
    compare(neuron.TernaryLIFNode(2.5, False, 0.7, None), n2.TernaryLIFNode(2.5, False, 0.7, None), x,
            what="TernaryLIF")


def test_ilif(sj2):
    x = inputs(scale=3.0)
    compare(neuron.ILIFNode(), sj2["neuron"].ILIFNode(), x, what="ILIF")
    count = sj2["surrogate"].MultiLevelSpikeCount(2, grad_window=(-0.5, 1.5))
    compare(neuron.ILIFNode(1.5, 0.8, count, True), sj2["neuron"].ILIFNode(1.5, 0.8, count, True), x, what="ILIF(2)")


def test_complementary_lif(sj2):
    x = inputs(scale=2.0)
    mine, theirs = neuron.ComplementaryLIFNode(2.5, 0.8), sj2["neuron"].ComplementaryLIFNode(2.5, 0.8)
    compare(mine, theirs, x, what="CLIF train")
    compare(mine.eval(), theirs.eval(), x, what="CLIF eval")
    mine, theirs = (neuron.ComplementaryLIFNode(step_mode="m", store_state_seqs=True),
                    sj2["neuron"].ComplementaryLIFNode(step_mode="m", store_state_seqs=True))
    close(mine(x), theirs(x), "CLIF m")
    close(mine.state_seqs, theirs.state_seqs, "CLIF state_seqs")


@pytest.mark.parametrize("training", [True, False])
def test_online_training_neurons(sj2, training):
    x = inputs()
    for name in ("OTTTLIFNode", "SLTTLIFNode"):
        mine, theirs = getattr(neuron, name)(), getattr(sj2["neuron"], name)()
        compare(mine.train(training), theirs.train(training), x, modes=("s",), what=f"{name} training={training}")


def test_gated_lif(sj2):
    torch.manual_seed(0)
    mine, theirs = neuron.GatedLIFNode(T, inplane=C), sj2["neuron"].GatedLIFNode(T, inplane=C)
    compare(mine, theirs, inputs((T, N, C, 2, 2)).float(), modes=("m",), what="GatedLIF")
    compare(neuron.GatedLIFNode(T), sj2["neuron"].GatedLIFNode(T), inputs((T, N, C, 2, 2)).float(), modes=("m",),
            what="GatedLIF scalar gates")


def test_psn_family(sj2):
    n2 = sj2["neuron"]
    x = inputs().float()
    compare(neuron.PSN(T), n2.PSN(T), x, modes=("m",), what="PSN")
    compare(neuron.MaskedPSN(2, T, 0.5), n2.MaskedPSN(2, T, 0.5), x, modes=("m",), what="MaskedPSN λ=0.5")
    compare(neuron.MaskedPSN(2, T, 1.0), n2.MaskedPSN(2, T, 1.0), x, what="MaskedPSN λ=1")
    for exp_init in (True, False):
        compare(neuron.SlidingPSN(3, exp_init), n2.SlidingPSN(3, exp_init), x, what=f"SlidingPSN exp={exp_init}")
    with pytest.raises(ValueError, match="lambda_ >= 1"):
        neuron.MaskedPSN(2, T)(x[0])


def test_dsr_neurons(sj2):
    x = inputs(scale=2.0).float()
    compare(neuron.DSRIFNode(T, 1.0), sj2["neuron"].DSRIFNode(T, 1.0), x, modes=("m",), what="DSRIF")
    compare(neuron.DSRLIFNode(T, 0.5, delta_t=0.5), sj2["neuron"].DSRLIFNode(T, 0.5, delta_t=0.5), x * 4,
            modes=("m",), what="DSRLIF")
    fixed = neuron.DSRIFNode(T, 1.0, v_threshold_training=False)
    assert "v_threshold" not in fixed.state_dict()


def test_few_spike_neurons(sj2):
    n2 = sj2["neuron"]
    K = 3
    tables = [([1.0, 0.5, 0.25], [1.0, 0.5, 0.25], [1.0, 0.5, 0.25]), ([2.0, 1.0, 0.5], [2.0, 1.0, 0.5],
                                                                         [2.1, 0.9, 0.4])]
    t, t2 = neuron.FewSpikeTable(*tables[0]), n2.FewSpikeTable(*tables[0])
    o, o2 = neuron.FewSpikeTable(*tables[1]), n2.FewSpikeTable(*tables[1])
    x = inputs((K, N, C), scale=2.0).float()
    compare(neuron.FewSpikeNode(t), n2.FewSpikeNode(t2), x, what="FewSpikeNode")
    compare(neuron.OutlierAwareThresholdNode(t, o, 1.0, 2.5), n2.OutlierAwareThresholdNode(t2, o2, 1.0, 2.5), x - 0.5,
            what="OutlierAwareThresholdNode")
    compare(neuron.HGNode([t, o], [0.8]), n2.HGNode([t2, o2], [0.8]), x, what="HGNode")


def test_ilc_neurons(sj2):
    torch.manual_seed(0)
    x = inputs((T, N, 6), scale=1.0).float()
    for name, args in (("ILCIFNode", ()), ("ILCLIFNode", (0.6,)), ("ILCCUBALIFNode", (0.4, 0.7))):
        mine, theirs = getattr(neuron, name)(2, 3, *args), getattr(sj2["neuron"], name)(2, 3, *args)
        # SpikingJelly adds the lateral input into its input in place, which autograd refuses on a leaf: give it a copy
        theirs.__class__ = type("Copying", (type(theirs),), {"forward": lambda self, x: super(
            type(self), self).forward(x * 1.0)})
        before = x.clone()
        compare(mine, theirs, x, modes=("m",), what=name)
        assert torch.equal(x, before)


def test_powerlaw_noise_matches_sj2(sj2):
    for beta, size in ((1.0, (3, 16)), (2.0, 15), (0.5, [2, 3, 9])):
        mine = neuron.powerlaw_psd_gaussian(beta, size, fmin=0.1, random_state=7)
        theirs = sj2["neuron"].powerlaw_psd_gaussian(beta, size, fmin=0.1, random_state=7)
        close(torch.as_tensor(mine), torch.as_tensor(theirs), f"powerlaw {beta}")


def test_noisy_neurons(sj2):
    torch.manual_seed(0)
    x = inputs((T, N, 6), scale=1.0).float()
    pairs = {"NoisyCUBALIFNode": (6, 0.4, 0.7), "NoisyILCCUBALIFNode": (2, 3, 0.4, 0.7),
             "NoisyNonSpikingIFNode": (6,)}
    for name, args in pairs.items():
        kw = {"T": T, **({"decode": "mean-mem"} if "NonSpiking" in name else {})}
        mine, theirs = getattr(neuron, name)(*args, **kw), getattr(sj2["neuron"], name)(*args, **kw)
        theirs.reset_noise(2)
        mine.reset_noise(2)
        for attr in ("eps_v_seq", "eps_s_seq", "eps_seq"):  # the same draws
            if hasattr(theirs, attr):
                setattr(mine, attr, getattr(theirs, attr).clone())
        compare(mine, theirs, x, modes=("m",), what=name)
        cn = torch.rand(N, T, 2 * 6 if "NonSpiking" not in name else 6)
        mine.load_colored_noise(cn)
        theirs.load_colored_noise(cn)
        compare(mine, theirs, x, modes=("m",), what=f"{name} loaded noise")


@pytest.mark.parametrize("features", ["out_features", "out_channels"])
def test_mpbn_lif(sj2, features):
    shape = (T, N, C) if features == "out_features" else (T, N, C, 2, 2)
    x = inputs(shape, scale=2.0).float()
    mine, theirs = neuron.MPBNLIFNode(**{features: C}), sj2["neuron"].MPBNLIFNode(**{features: C})
    compare(mine, theirs, x, what="MPBN")
    for m in (mine, theirs):
        m(x[0]) if m.step_mode == "s" else None  # statistics move
        m.reset()
        m.re_parameterize_v_threshold(normalize_residual=True, running_stats=True)
    compare(mine, theirs, x, what="MPBN folded")
    compare(mine.eval(), theirs.eval(), x, what="MPBN folded eval")
    learn, learn2 = (neuron.MPBNLIFNode(**{features: C}, learnable_vth=True),
                     sj2["neuron"].MPBNLIFNode(**{features: C}, learnable_vth=True))
    compare(learn, learn2, x, what="MPBN learnable threshold")


def test_stbif(sj2):
    x = inputs(scale=2.0).float() - 0.5
    for kw in ({"level": 4}, {"level": 8, "sym": True}):
        mine, theirs = neuron.STBIFNode(0.5, **kw), sj2["neuron"].STBIFNode(0.5, **kw)
        with torch.no_grad():
            for mode in ("s", "m"):
                a, b = copy.deepcopy(mine), copy.deepcopy(theirs)
                a.step_mode = b.step_mode = mode
                close(run(a, x, mode), run(b, x, mode), f"STBIF {kw} {mode}")
                close(a.accumulated, b.accumulated, "accumulated")


def test_activation_aware_if(sj2):
    x = inputs((T, N, C), scale=1.5)
    th, off = torch.tensor([0.8, 1.0, 1.2]), torch.tensor([0.1, 0.0, -0.2])
    compare(neuron.ActivationAwareIFNode(th, off, v_reset=0.0).double(),
            sj2["neuron"].ActivationAwareIFNode(th, off, v_reset=0.0).double(), x, what="ActivationAwareIF")
    with torch.no_grad():  # SpikingJelly's inference kernel
        a, b = neuron.ActivationAwareIFNode(th, off, step_mode="m"), sj2["neuron"].ActivationAwareIFNode(
            th, off, step_mode="m", store_v_seq=True)
        close(a(x.float()), b(x.float()), "ActivationAwareIF inference")


def _flex_core(x, v, tau):
    h = v + (x - v) / tau
    s = (h >= 1.0).to(h.dtype) + torch.sigmoid(h) - torch.sigmoid(h).detach()
    return s, h * (1 - s)


def test_flexsn(sj2):
    x = inputs()
    tau = torch.tensor(2.0, dtype=torch.float64)
    for mode in ("s", "m"):
        mine = neuron.FlexSN(_flex_core, 1, (nn.Parameter(tau.clone()),), step_mode=mode, store_state_seqs=True)
        theirs = sj2["neuron"].FlexSN(_flex_core, 1, (nn.Parameter(tau.clone()),), step_mode=mode,
                                      store_state_seqs=True)
        compare(mine, theirs, x, modes=(mode,), what=f"FlexSN {mode}")


# --------------------------------------------------------------------------- base classes written against, directly
def test_sj2_style_subclasses_of_the_remaining_bases(sj2):
    n2 = sj2["neuron"]

    def adapt(cls):
        class Adaptive(cls):  # SpikingJelly's AdaptBaseNode protocol: a functional step using the adaptation
            def single_step_functional_forward(self, inputs, states, **kwargs):
                v, w = states
                h = v + (inputs[0] - w) / 2.0
                spike = self.surrogate_function(h - self.v_threshold)
                w = self.jit_neuronal_adaptation(w, self.tau_w, self.a, self.v_rest, h) + self.b * spike
                return (spike,), (h * (1 - spike), w)

        return Adaptive(1.0, 0.0, 0.0, 0.1, 2.0, 0.5, 0.2)

    compare(adapt(neuron.AdaptBaseNode), adapt(n2.AdaptBaseNode), inputs(), what="AdaptBaseNode subclass")

    def readout(cls):
        class Leaky(cls):
            def neuronal_charge(self, x):
                self.v = 0.8 * self.v + x

        return Leaky("mean-mem")

    compare(readout(neuron.NonSpikingBaseNode), readout(n2.NonSpikingBaseNode), inputs(), modes=("m",),
            what="NonSpikingBaseNode subclass", copy_state=False)

    def ilc(cls):
        class Tanh(cls):
            def neuronal_charge(self, x):
                self.v = self.v + torch.tanh(x)

        torch.manual_seed(3)
        return Tanh(2, 2)

    mine, theirs = ilc(neuron.ILCBaseNode), ilc(n2.ILCBaseNode)
    with torch.no_grad():
        close(mine(inputs((T, N, 4)).float()), theirs(inputs((T, N, 4)).float()), "ILCBaseNode subclass")
    assert base.MultiStepModule().supported_step_mode() == sj2["base"].MultiStepModule().supported_step_mode()
    assert base.SingleStepModule().supported_step_mode() == sj2["base"].SingleStepModule().supported_step_mode()


def test_stbif_from_quantizer(sj2):
    class Quantizer(nn.Module):
        s, sym, pos_max, neg_min = torch.tensor(0.25), True, torch.tensor(3.0), torch.tensor(-4.0)

    mine, theirs = neuron.STBIFNode.from_quantizer(Quantizer()), sj2["neuron"].STBIFNode.from_quantizer(Quantizer())
    assert (mine.level, mine.sym) == (theirs.level, theirs.sym)
    close(list(mine.state_dict().values()), list(theirs.state_dict().values()), "STBIF buffers")


def test_remaining_functional_steps_match_sj2(sj2):
    f2 = sj2["functional"]
    sg, sg2 = _sg_pair(sj2)
    x = inputs()
    weight, bias = torch.tensor([0.25, 0.5, 1.0], dtype=torch.float64), torch.tensor(-0.5, dtype=torch.float64)
    queue, queue2 = (), ()
    for xt in x:
        s, queue = F.sliding_psn_step(xt, queue, weight, bias, sg)
        s2, queue2 = f2.sliding_psn_step(xt, queue2, weight, bias, sg2)
        close(s, s2, "sliding_psn_step")
    masked = torch.rand(T, T, dtype=torch.float64)
    bias_t = torch.rand(T, 1, dtype=torch.float64)
    state, state2 = (0, ()), (0, ())
    for xt in x:
        s, *state = F.masked_psn_step(xt, *state, masked, bias_t, 2, sg)
        s2, *state2 = f2.masked_psn_step(xt, *state2, masked, bias_t, 2, sg2)
        close(s, s2, "masked_psn_step")
    gates = [torch.full((1, C), 0.3 + 0.1 * i, dtype=torch.float64) for i in range(8)]
    spike = torch.zeros(N, C, dtype=torch.float64)
    v = v2 = torch.zeros(N, C, dtype=torch.float64)
    spike2 = spike
    for xt in x:
        spike, v = F.gated_lif_step(xt, v, spike, *gates, sg)
        spike2, v2 = f2.gated_lif_step(xt, v2, spike2, *gates, sg2)
        close((spike, v), (spike2, v2), "gated_lif_step")
    xf = inputs(dtype=torch.float32)
    args = (torch.tensor([0.8, 1.0, 1.2]), torch.tensor([0.1, 0.0, -0.2]), C, 1, None, True)
    v0 = torch.zeros(N, C)
    close(F.activation_aware_if_multi_step(xf, v0, *args), f2.activation_aware_if_multi_step(xf, v0, *args),
          "activation_aware_if_multi_step")
    with pytest.raises(ValueError, match="unknown neuron type"):
        F.neuron_implementation("nope", torch.device("cpu"))
