"""sj.nir_exchange: SpikingJelly 2.0's export_to_nir / import_from_nir on sj.nir (SJ itself is not needed here;
tests/sjparity/test_nir_parity.py compares with it)."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch
from torch import nn

import sj.nir
from sj import layer, neuron
from sj.functional import reset_net, set_step_mode
from sj.nir_exchange import NIRStatefulNet, export_to_nir, import_from_nir

T = 12


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(layer.Linear(3, 4), neuron.LIFNode(tau=2.0), layer.Linear(4, 2), neuron.IFNode())
    with torch.no_grad():
        net[0].weight.abs_().mul_(3.0)
        net[2].weight.abs_().mul_(2.0)
    return net


def test_export_to_nir_writes_save_path_with_dt(tmp_path):
    path = tmp_path / "net.nir"
    graph = export_to_nir(_net(), torch.rand(1, 3), path, 1e-3)  # SJ's positional order: save_path, then dt
    assert isinstance(graph, nir.NIRGraph) and graph.metadata["dt"] == 1e-3
    assert sj.nir.read(path).metadata["dt"] == 1e-3


def test_import_from_nir_steps_with_explicit_state(tmp_path):
    net = _net()
    x = torch.rand(T, 2, 3)
    reset_net(net)
    set_step_mode(net, "m")
    with torch.no_grad():
        want = net(x)
    path = tmp_path / "net.nir"
    export_to_nir(net, x, save_path=path)
    model = import_from_nir(path)
    assert isinstance(model, NIRStatefulNet)
    state, outs = None, []
    for xt in x:
        y, state = model(xt, state)
        outs.append(y)
    assert want.sum() > 0 and torch.equal(torch.stack(outs), want)
    restarted, _ = model(x[0])  # state=None starts again from the reset state
    assert torch.equal(restarted, want[0])
    stale = [model(xt)[0] for xt in x[:3]]  # never passing the state back restarts every step, as in SJ 2.0
    assert all(torch.equal(s, want[0]) for s in stale)


def test_import_from_nir_multi_step_device_and_dtype():
    net = _net()
    x = torch.rand(T, 2, 3)
    graph = export_to_nir(net, x[0])
    model = import_from_nir(graph, step_mode="m", dtype=torch.float64)
    y, state = model(x.double())
    assert y.dtype == torch.float64 and y.shape == (T, 2, 2)
    potentials = [m["v"] for m in state.values() if "v" in m]
    assert len(potentials) == 2 and all(v.dtype == torch.float64 for v in potentials)


def test_import_from_nir_reads_foreign_files_as_spikingjelly():
    """No sj metadata: the graph is read as SJ 2.0 does (IF adds r·dt per step, fires on H ≥ V_th)."""
    nodes = {"input": nir.Input(input_type={"input": np.array([1])}),
             "if": nir.IF(r=np.full(1, 1 / 1e-4), v_threshold=np.ones(1), v_reset=np.zeros(1)),
             "output": nir.Output(output_type={"output": np.array([1])})}
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "if"), ("if", "output")])
    model = import_from_nir(graph)
    assert type(model.net.module_for("if")) is neuron.IFNode
    y, state = model(torch.full((1, 1), 0.5))
    y, state = model(torch.full((1, 1), 0.5), state)
    assert y.item() == 1.0  # 0.5 + 0.5 reaches the threshold of 1


def test_recorded_dt_wins_with_a_warning():
    graph = export_to_nir(_net(), torch.rand(1, 3), dt=1e-3)
    with pytest.warns(sj.nir.NIRSemanticsWarning, match=r"records dt=0\.001"):
        model = import_from_nir(graph, dt=1e-4)
    assert model.net.conventions.dt == 1e-3


@pytest.mark.parametrize("kw, match", [({"dt": 0.0}, "dt must be a positive"), ({"step_mode": "x"}, "step_mode")])
def test_import_from_nir_argument_errors(kw, match):
    with pytest.raises(ValueError, match=match):  # SJ 2.0 raises ValueError; sj's NIRError is one
        import_from_nir(export_to_nir(_net(), torch.rand(1, 3)), **kw)


def test_state_from_another_network_is_refused():
    model = import_from_nir(export_to_nir(_net(), torch.rand(1, 3)))
    with pytest.raises(sj.nir.NIRGraphError, match="state has no entry"):
        model(torch.rand(1, 3), {"elsewhere": {}})
