"""Golden records in the graph file and the `sj nir` command."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch
from torch import nn

import sj.nir
from sj import layer, neuron
from sj.cli.main import main
from sj.functional import set_step_mode
from sj.nir import golden


@pytest.fixture
def recorded(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(layer.Linear(4, 5), neuron.LIFNode(tau=2.0), layer.Linear(5, 2),
                        neuron.NonSpikingLIFNode(tau=3.0, step_mode="s"))
    path = tmp_path / "net.nir"
    sj.nir.export(net, torch.rand(1, 4), dt=1e-3, path=path)
    x = torch.rand(30, 3, 4) * 2
    np.save(tmp_path / "x.npy", x.numpy())
    golden.attach(path, golden.record(sj.nir.load(path), x))
    return path, x


def test_record_survives_nir_read(recorded):
    path, _ = recorded
    assert isinstance(nir.read(path), nir.NIRGraph)
    data = golden.attached(path)
    assert data.nodes["output"].observables["output"].data.shape == (3, 30, 2)


def test_run_matches_and_detects_a_change(recorded, capsys):
    path, _ = recorded
    assert main(["nir", "run", str(path)]) == 0
    assert "OK" in capsys.readouterr().out
    # tamper with a weight: same file, same record, different behaviour
    net = sj.nir.load(path)
    with torch.no_grad():
        net.module_for("0").weight.add_(0.5)
    data = golden.attached(path)
    problems = golden.compare(net, data, golden.inputs_of(net, data, {"input": (4,)}))
    assert problems and problems[0].output == "output" and problems[0].count > 0


def test_run_with_input_and_record(tmp_path, capsys):
    net = nn.Sequential(layer.Linear(4, 3), neuron.IFNode(v_threshold=0.5))
    path = tmp_path / "g.nir"
    sj.nir.export(net, torch.rand(1, 4), path=path)
    np.save(tmp_path / "x.npy", (np.random.rand(10, 2, 4) * 2).astype(np.float32))
    assert main(["nir", "run", str(path)]) == 2  # no record, no input
    assert "carries no golden record" in capsys.readouterr().err
    assert main(["nir", "run", str(path), "--input", str(tmp_path / "x.npy"), "--record"]) == 0
    assert main(["nir", "run", str(path)]) == 0
    np.save(tmp_path / "bad.npy", np.zeros((10, 2, 5), np.float32))
    assert main(["nir", "run", str(path), "--input", str(tmp_path / "bad.npy")]) == 2
    assert "--input has shape (10, 2, 5)" in capsys.readouterr().err


def test_inspect_json(recorded, capsys):
    path, _ = recorded
    assert main(["nir", "inspect", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["profile_guess"]["profile"] == "sj" and info["golden"] is True
    assert info["nodes"]["1"]["type"] == "LIF" and info["metadata"]["dt"] == 1e-3


def test_convert_foreign_file_to_sj_semantics(tmp_path):
    tau = 1e-4 / (1 - 0.8)
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([3])}),
                            "w": nir.Linear(weight=np.random.rand(2, 3).astype(np.float32)),
                            "lif": nir.LIF(tau=np.full(2, tau), r=np.full(2, tau / 1e-4), v_leak=np.zeros(2),
                                           v_threshold=np.ones(2), v_reset=np.zeros(2)),
                            "output": nir.Output(output_type={"output": np.array([2])})},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    src, out = tmp_path / "snn.nir", tmp_path / "sj.nir"
    nir.write(src, g)
    assert main(["nir", "convert", str(src), str(out), "--profile", "snntorch"]) == 0
    a, b = sj.nir.load(src, profile="snntorch"), sj.nir.load(out)
    assert b.conventions.name == "sj" and b.conventions.threshold == ">"
    x = torch.rand(40, 2, 3) * 2
    set_step_mode(a, "m")
    set_step_mode(b, "m")
    assert torch.equal(a(x), b(x))


def test_plugin_hooks_are_registered():
    from sj.plugins.registry import collect

    formats = {f.name: f for f in collect("sj_exchange_formats")}
    assert "nir" in formats
    g = formats["nir"].export(nn.Sequential(layer.Linear(2, 2), neuron.IFNode()), torch.rand(1, 2))
    assert isinstance(formats["nir"].load(g), sj.nir.NIRNet)
    assert "nir" in {c.name for c in collect("sj_cli_commands")}
