"""``sj ops``: the per-layer table for a model from a file, a module or the zoo; one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from sj.cli.main import main

NET = '''
import torch
from torch import nn
from sj import layer, neuron

def tiny(width=4):
    torch.manual_seed(0)
    return nn.Sequential(layer.Conv2d(1, width, 3, padding=1, step_mode="m"), neuron.LIFNode(step_mode="m"),
                         layer.Flatten(step_mode="m"), layer.Linear(width * 16, 2, step_mode="m"))

NOT_A_MODULE = 3

def not_a_module():
    return 3
'''


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET)
    return path


def test_table_for_a_factory_in_a_file(script, capsys):
    assert main(["ops", f"{script}:tiny", "--input-shape", "2,1,1,4,4", "--input", "spikes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["layer", "type", "SynOps", "ACs", "MACs", "rate", "energy", "(nJ)"]
    assert [line.split()[0] for line in out[1:4]] == ["Sequential.0", "Sequential.1", "Sequential.3"]  # no Flatten
    assert out[4].startswith("total") and out[5].startswith("energy ")
    assert out[2].split()[1] == "LIFNode" and 0.0 <= float(out[2].split()[5]) <= 1.0


def test_json_with_model_kwargs_sums_to_the_total(script, capsys):
    assert main(["ops", f"{script}:tiny", "--input-shape", "2x1x1x4x4", "--model-kwargs", "width=3", "--json",
                 "--precision", "int8"]) == 0
    data = json.loads(capsys.readouterr().out)
    layers = data["layers"]
    assert data["input_shape"] == [2, 1, 1, 4, 4] and layers[0]["macs"] == 2 * 3 * 16 * 9  # dense input: MACs
    assert sum(r["synops"] for r in layers) == data["total"]["synop"]
    assert sum(r["energy_pj"] for r in layers) == pytest.approx(data["total"]["energy_total_pj"])


def test_zoo_model(capsys):
    pytest.importorskip("sj.model.registry", reason="the model zoo is not installed")
    assert main(["ops", "spikformer_cifar10", "--input-shape", "1,1,3,32,32", "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    kinds = {r["kind"] for r in layers}
    assert {"Conv2d", "LIFNode", "Linear", "BatchNorm1d"} <= kinds and all(r["acs"] > 0 for r in layers
                                                                          if r["kind"] == "LIFNode")


def test_zoo_model_gets_the_catalogue_defaults(capsys):
    """A zoo builder without a default neuron (SpikingJelly's ResNets need spiking_neuron=) is built as get_model
    builds it: with the catalogue's neuron, and the user's --model-kwargs on top."""
    pytest.importorskip("sj.model.registry", reason="the model zoo is not installed")
    assert main(["ops", "spiking_resnet18", "--input-shape", "1,3,32,32", "--model-kwargs", "num_classes=4",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"IFNode", "Conv2d", "Linear"} <= {r["kind"] for r in data["layers"]} and data["total"]["mac"] > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["nope.py:tiny"], "no file nope.py"),
    (["{script}:missing"], "has no callable 'missing'"),
    (["{script}:NOT_A_MODULE"], "has no callable 'NOT_A_MODULE'"),
    (["{script}:not_a_module"], "returned a int, not an nn.Module"),
    (["{script}:tiny", "--model-kwargs", "depth=2"], "building {script}:tiny raised TypeError"),
    (["{script}:tiny", "--model-kwargs", "=2"], "--model-kwargs takes KEY=VALUE pairs"),
    (["sj.nothing_here:f"], "cannot import sj.nothing_here"),
    (["no_such_model"], "unknown model 'no_such_model'"),
    (["{script}:tiny", "--input-shape", "2,0,1"], "--input-shape must be positive integers"),
    (["{script}:tiny", "--input-shape", "a,b"], "--input-shape must be positive integers"),
    (["{script}:tiny", "--input-shape", "2,1,1,5,5"], "failed on an input of shape [2, 1, 1, 5, 5]: RuntimeError"),
    (["{script}:tiny", "--rate", "2"], "--rate must be in [0, 1]"),
])
def test_bad_input_fails_with_one_line(script, argv, message):
    argv = [a.format(script=script) for a in argv]
    if "--input-shape" not in argv:
        argv += ["--input-shape", "2,1,1,4,4"]
    if argv[0] == "no_such_model":
        pytest.importorskip("sj.model.registry", reason="the model zoo is not installed")
    with pytest.raises(SystemExit) as exc:
        main(["ops", *argv])
    text = exc.value.code  # a string: Python prints it to stderr and exits with status 1
    assert isinstance(text, str) and text.startswith("sj ops: ") and "\n" not in text
    assert message.format(script=script) in text
