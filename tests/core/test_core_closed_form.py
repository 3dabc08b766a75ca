"""Neuron trajectories against values computed by hand from the published equations."""

import math

import pytest
import torch

from sj import neuron, surrogate
from sj.functional import reset_net

X = [0.6, 0.9, 0.2, 1.5]


@pytest.fixture(autouse=True)
def float64_parameters():
    """Build neurons in float64 so parameters such as v_reset=-0.1 are not first rounded to float32."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def run(node, xs):
    node.step_mode = "m"
    x = torch.tensor(xs, dtype=torch.float64).view(-1, 1)
    node.to(torch.float64)
    node.store_v_seq = True
    s = node(x)
    return s.view(-1).tolist(), node.v_seq.view(-1).tolist()


def hand(charge, xs, v0, v_th=1.0, v_reset=0.0, soft=False):
    v, spikes, vs = v0, [], []
    for x in xs:
        h = charge(v, x)
        s = 1.0 if h >= v_th else 0.0
        v = h - v_th * s if soft else h * (1 - s) + v_reset * s
        spikes.append(s)
        vs.append(v)
    return spikes, vs


@pytest.mark.parametrize("soft", [False, True])
def test_if(soft):
    got = run(neuron.IFNode(v_reset=None if soft else 0.0), X)
    assert got == hand(lambda v, x: v + x, X, 0.0, soft=soft)
    # hand values: 0.6 → 1.5 spike → (0 | 0.5) ...
    assert got[0] == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("decay_input", [True, False])
def test_lif(decay_input):
    tau, vr = 2.0, -0.1
    ch = (lambda v, x: v + (x - (v - vr)) / tau) if decay_input else (lambda v, x: v - (v - vr) / tau + x)
    got = run(neuron.LIFNode(tau=tau, decay_input=decay_input, v_reset=vr), [2 * x for x in X])
    exp = hand(ch, [2 * x for x in X], vr, v_reset=vr)
    assert got[0] == exp[0]
    assert got[1] == pytest.approx(exp[1], abs=1e-12)


def test_lif_first_steps_by_hand():
    # tau=2, decay_input, hard reset to 0: H1 = 0 + (1.2 - 0)/2 = 0.6; H2 = 0.6 + (1.8 - 0.6)/2 = 1.2 → spike, V=0
    s, v = run(neuron.LIFNode(tau=2.0), [1.2, 1.8, 0.4])
    assert s == [0.0, 1.0, 0.0]
    assert v == pytest.approx([0.6, 0.0, 0.2])


def test_plif_matches_lif_with_same_tau():
    s1, v1 = run(neuron.ParametricLIFNode(init_tau=3.0), [2 * x for x in X])
    s2, v2 = run(neuron.LIFNode(tau=3.0), [2 * x for x in X])
    assert s1 == s2
    assert v1 == pytest.approx(v2, abs=1e-12)


def test_qif():
    tau, v_c, a0, v_rest, vr = 2.0, 0.8, 1.0, 0.0, -0.1
    got = run(neuron.QIFNode(), X)
    exp = hand(lambda v, x: v + (x + a0 * (v - v_rest) * (v - v_c)) / tau, X, vr, v_reset=vr)
    assert got[0] == exp[0]
    assert got[1] == pytest.approx(exp[1], abs=1e-12)


def test_eif():
    tau, dT, th, v_rest, vr = 2.0, 1.0, 0.8, 0.0, -0.1
    got = run(neuron.EIFNode(), X)
    exp = hand(lambda v, x: v + (x + v_rest - v + dT * math.exp((v - th) / dT)) / tau, X, vr, v_reset=vr)
    assert got[0] == exp[0]
    assert got[1] == pytest.approx(exp[1], abs=1e-12)


def test_izhikevich_with_adaptation():
    tau, v_c, a0, v_rest, a, b, tau_w = 2.0, 0.8, 1.0, -0.1, 1.0, 0.1, 2.0
    node = neuron.IzhikevichNode(a=a, b=b)
    got = run(node, [2 * x for x in X])
    v, w, spikes, vs = 0.0, 0.0, [], []
    for x in [2 * x for x in X]:
        h = v + (x + a0 * (v - v_rest) * (v - v_c) - w) / tau
        s = 1.0 if h >= 1.0 else 0.0
        w = w + (a * (h - v_rest) - w) / tau_w + b * s
        v = h * (1 - s)
        spikes.append(s)
        vs.append(v)
    assert got[0] == spikes
    assert got[1] == pytest.approx(vs, abs=1e-12)
    assert node.w.item() == pytest.approx(w, abs=1e-12)


def test_cuba_lif():
    got = run(neuron.CUBALIFNode(), X)
    c, v, spikes = 0.0, 0.0, []
    for x in X:
        c = c * 0.5 + x
        h = v * 0.25 + c
        s = 1.0 if h >= 0.5 else 0.0
        v = h * (1 - s)
        spikes.append(s)
    assert got[0] == spikes


def test_nonspiking_lif_is_a_leaky_integrator():
    node = neuron.NonSpikingLIFNode(tau=2.0, step_mode="m").to(torch.float64)
    y = node(torch.tensor(X, dtype=torch.float64).view(-1, 1)).view(-1).tolist()
    v, exp = 0.0, []
    for x in X:
        v = v + (x - v) / 2
        exp.append(v)
    assert y == pytest.approx(exp)


def test_liaf_outputs_activation_of_h():
    node = neuron.LIAFNode(torch.nn.Identity(), threshold_related=False, tau=2.0, step_mode="m").to(torch.float64)
    y = node(torch.tensor([1.2, 1.8, 0.4], dtype=torch.float64).view(-1, 1)).view(-1).tolist()
    assert y == pytest.approx([0.6, 1.2, 0.2])


def test_reset_restores_initial_state():
    node = neuron.LIFNode(step_mode="m", surrogate_function=surrogate.ATan())
    node(torch.ones(3, 2))
    assert isinstance(node.v, torch.Tensor)
    reset_net(node)
    assert node.v == 0.0
