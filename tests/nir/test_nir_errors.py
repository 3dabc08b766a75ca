"""Malformed files, unknown node types, shape mismatches, implausible parameters, profiles: clear errors."""

from __future__ import annotations

import itertools
import warnings

import nir
import numpy as np
import pytest
import torch
from torch import nn

import sj.nir
from sj import layer, neuron
from sj.functional import reset_net, set_step_mode
from sj.nir import conventions


def _lif(n: int, tau: float = 1e-2, r: float = 1.0, **kw) -> nir.LIF:
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, r), v_leak=np.zeros(n), v_threshold=np.ones(n), **kw)


def _graph(*middle: tuple[str, nir.NIRNode], n_in: int = 3, n_out: int = 2, **kw) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}), **dict(middle),
             "output": nir.Output(output_type={"output": np.array([n_out])})}
    names = list(nodes)
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(names)), **kw)


def test_malformed_file(tmp_path):
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(sj.nir.NIRError, match=r"bad\.nir: not a readable NIR file"):
        sj.nir.load(bad, dt=1e-3)


def test_unknown_node_type_is_named():
    g = _graph(("lin", nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))), ("integ", nir.I(r=np.ones(2))))
    with pytest.raises(sj.nir.NIRError, match=r"node 'integ' \(I\): node type 'I' is not supported"):
        sj.nir.load(g, dt=1e-3)


def test_shape_mismatch_names_the_edge():
    g = _graph(("lin", nir.Affine(weight=np.ones((4, 3)), bias=np.zeros(4))), ("lif", _lif(2)), type_check=False)
    with pytest.raises(sj.nir.NIRError, match=r"edge 'lin' → 'lif'.*\[4\].*\[2\]"):
        sj.nir.load(g, dt=1e-3)


def test_edge_to_missing_node():
    g = _graph(("lin", nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))), type_check=False)
    g.edges.append(("lin", "ghost"))
    with pytest.raises(sj.nir.NIRError, match="ghost"):
        sj.nir.load(g, dt=1e-3)


def test_bias_shape_mismatch_names_node():
    g = _graph(("lin", nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(5))), type_check=False)
    with pytest.raises(sj.nir.NIRError, match=r"node 'lin' \(Affine\): bias shape"):
        sj.nir.load(g, dt=1e-3)


def test_tau_below_dt_is_rejected_with_norse_hint():
    g = _graph(("lin", nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))), ("lif", _lif(2, tau=1e-5)))
    with pytest.raises(sj.nir.NIRError, match=r"node 'lif'.*shorter than dt.*profile='norse'"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sj.nir.load(g, profile="spikingjelly")  # dt = 1e-4 > τ = 1e-5


def test_unknown_dt_is_an_error():
    g = _graph(("lin", nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2))), ("lif", _lif(2, r=3.0, tau=0.5)))
    with pytest.raises(sj.nir.NIRError, match="pass dt="):
        sj.nir.load(g)


def test_conflicting_dt_with_metadata():
    net = nn.Sequential(layer.Linear(3, 2), neuron.LIFNode())
    g = sj.nir.export(net, torch.rand(1, 3), dt=1e-3)
    with pytest.raises(sj.nir.NIRError, match=r"records dt=0\.001"):
        sj.nir.load(g, dt=1e-4)


def test_unknown_profile():
    with pytest.raises(sj.nir.NIRError, match="unknown profile 'brian'"):
        sj.nir.load(_graph(("lif", _lif(3)), n_out=3), profile="brian")


def test_bad_metadata_value_is_named():
    g = _graph(("lif", _lif(3)), n_out=3, metadata={"format": conventions.FORMAT, "dt": 1e-3, "reset_mode": "zap"})
    with pytest.raises(sj.nir.NIRError, match="reset_mode='zap'"):
        sj.nir.load(g)


def test_unexportable_module_is_named():
    net = nn.Sequential(layer.Linear(3, 2), nn.ReLU())
    with pytest.raises(sj.nir.NIRError, match=r"module '1' \(ReLU\) has no NIR equivalent"):
        sj.nir.export(net, torch.rand(1, 3))


def test_norse_profile_undoes_dt_times_tau():
    """Norse ≤ 1.1 writes dt·τ (norse#411): profile 'norse' reads it back; the guess says so."""
    dt, tau = 1e-3, 1e-2
    g = _graph(("lin", nir.Affine(weight=np.eye(2, 3), bias=np.zeros(2))), ("lif", _lif(2, tau=dt * tau)))
    assert conventions.guess_profile(g)[0] == "norse"
    with pytest.raises(sj.nir.NIRError, match="profile='norse'"):
        sj.nir.load(g)  # 'auto' never reinterprets fields on a guess
    net = sj.nir.load(g, profile="norse")
    lif = net.module_for("lif")
    assert lif.tau.item() == pytest.approx(tau / dt)
    assert lif.strict_threshold and net.conventions.initial_v == "v_leak"


def test_profile_guess_warns_and_strict_threshold_matters():
    """snnTorch's signature (r = τ/1e-4) is recognised; its strict '>' firing is kept exactly."""
    tau = 1e-4 / (1 - 0.5)
    g = _graph(("lin", nir.Linear(weight=np.eye(2, 3))),
               ("lif", nir.LIF(tau=np.full(2, tau), r=np.full(2, tau / 1e-4), v_leak=np.zeros(2),
                               v_threshold=np.ones(2), v_reset=np.zeros(2))))
    with pytest.warns(sj.nir.NIRSemanticsWarning, match="guessed producer 'snntorch'"):
        net = sj.nir.load(g, step_mode="m")
    x = torch.zeros(4, 1, 3)
    x[:, 0, 0] = 1.0  # v = 0.5·v + 1 → 1, 1.5 (fires only on strictly greater)
    spikes = net(x)[:, 0, 0]
    assert spikes.tolist() == [0.0, 1.0, 0.0, 1.0]
    g.metadata = {"format": conventions.FORMAT, "dt": 1e-4, "threshold": ">="}
    reset_net(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net_ge = sj.nir.load(g, step_mode="m")
    assert net_ge(x)[:, 0, 0].tolist() == [1.0, 1.0, 1.0, 1.0]  # v = 1 reaches the threshold


def test_sinabs_profile_exp_decay():
    g = _graph(("lin", nir.Linear(weight=np.eye(1, 1))), ("lif", _lif(1, tau=4.0)), n_in=1, n_out=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = sj.nir.load(g, profile="sinabs", step_mode="s")
    alpha = float(np.exp(-1 / 4.0))
    v = 0.0
    for _ in range(3):
        net(torch.full((1, 1), 0.3))
        v = alpha * v + 0.3
        assert net.module_for("lif").v.item() == pytest.approx(v, rel=1e-6)


def test_step_modes_agree_for_loaded_graph():
    torch.manual_seed(0)
    weight = np.random.default_rng(0).random((2, 3))  # seeded: about 2 % of random draws never reach the threshold
    net = sj.nir.load(_graph(("lin", nir.Affine(weight=weight, bias=np.zeros(2))),
                             ("lif", _lif(2, tau=5e-3))), dt=1e-3)
    x = torch.rand(20, 4, 3) * 2
    set_step_mode(net, "m")
    ym = net(x)
    reset_net(net)
    set_step_mode(net, "s")
    ys = torch.stack([net(xt) for xt in x])
    assert ym.sum() > 0 and torch.equal(ym, ys)


def test_spikingjelly_files_are_not_taken_for_norse():
    """SpikingJelly 2.0 writes LIF τ = τ_steps·1e-4 with r = 1 (τ < 1e-3 s, like Norse's dt·τ), but float64 neuron
    parameters beside float32 weights; Norse writes float32 throughout."""
    def graph(neuron_dtype):
        lif = nir.LIF(**{f: np.full(2, v, neuron_dtype) for f, v in
                         (("tau", 3e-4), ("r", 1.0), ("v_leak", 0.0), ("v_threshold", 1.0), ("v_reset", 0.0))})
        return _graph(("lin", nir.Linear(weight=np.eye(2, 3, dtype=np.float32))), ("lif", lif))

    assert conventions.guess_profile(graph(np.float64))[0] == "spikingjelly"
    assert conventions.guess_profile(graph(np.float32))[0] == "norse"
    with pytest.warns(sj.nir.NIRSemanticsWarning, match="guessed producer 'spikingjelly'"):
        net = sj.nir.load(graph(np.float64))
    assert net.conventions.dt == 1e-4 and net.module_for("lif").tau == pytest.approx(3.0)
