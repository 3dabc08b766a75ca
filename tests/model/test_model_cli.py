"""The commands sj-models contributes through the ``sj_cli_commands`` hook (``sj model``, ``sj ann2snn``, and
``sj demo --ann2snn``), and what sj-core alone says when they are asked for."""

from __future__ import annotations

import json

import pytest

from sj.cli.main import main
from sj.plugins.registry import plugin_status, reset_registry


@pytest.fixture()
def without_sj_models(monkeypatch):
    monkeypatch.setenv("SJ_DISABLE_PLUGINS", "models")
    reset_registry()
    yield
    monkeypatch.delenv("SJ_DISABLE_PLUGINS")
    reset_registry()


def test_sj_model_list_comes_from_the_plugin(capsys):
    assert any(p.name == "models" and p.loaded for p in plugin_status())
    assert main(["model", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["sew_resnet50"]["module"] == "sew_resnet" and by_name["sew_resnet50"]["parameters"] == 25_557_032
    assert main(["model", "list"]) == 0
    assert "spiking_vgg19_bn" in capsys.readouterr().out
    assert main(["model"]) == 2


def test_sj_demo_ann2snn_runs_the_plugin_command(monkeypatch):
    import sj.ann2snn.demo

    calls = []
    monkeypatch.setattr(sj.ann2snn.demo, "run_from_cli", lambda **kw: calls.append(kw) or 0)
    assert main(["demo", "--ann2snn", "--seed", "3", "--backend", "torch", "--no-progress"]) == 0
    assert main(["ann2snn", "demo", "--device", "cpu"]) == 0
    assert calls == [{"backend": "torch", "device": None, "seed": 3, "progress": False},
                     {"backend": None, "device": "cpu", "seed": 0, "progress": True}]


def test_sj_core_alone_says_to_install_sj_models(without_sj_models, capsys):
    assert main(["model", "list"]) == 2
    assert "pip install sj-models" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"sj demo --ann2snn: .*pip install sj-models"):
        main(["demo", "--ann2snn", "--no-progress"])
