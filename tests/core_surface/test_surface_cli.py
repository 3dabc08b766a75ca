"""The `sj` subcommands sj-core contributes: demo (a real training run), bench, info."""

import json
import re

import pytest

from sj.cli.main import main

pytest.importorskip("sklearn", reason="sj demo needs the demo extra (scikit-learn)")


def test_sj_demo_two_epochs_reaches_accuracy_floor(tmp_path, capsys):
    out_png = tmp_path / "raster.png"
    # 600 of 1797 samples (450 train / 150 test), 2 epochs, automatic backend choice: ~10 s on 2 CPU cores
    rc = main(["demo", "--epochs", "2", "--subset", "600", "--batch-size", "16", "--lr", "0.01",
               "--no-progress", "--plot", str(out_png)])
    out = capsys.readouterr().out
    assert rc == 0, out
    acc = float(re.search(r"test accuracy: ([\d.]+) %", out).group(1))
    assert acc >= 80.0, out  # measured 96 % with this seed; chance is 10 %
    assert re.search(r"wall time: [\d.]+ s", out)
    assert "backend timings per training step: torch" in out
    assert out_png.stat().st_size > 1000 and out_png.read_bytes()[:4] == b"\x89PNG"


def test_demo_raster_shows_every_step_and_labels_the_digit_rows(tmp_path):
    pytest.importorskip("matplotlib")
    import torch

    from sj.demo.model import DigitsSNN
    from sj.demo.train import plot_test_sample

    T = 12
    fig = plot_test_sample(DigitsSNN(T), torch.rand(1, 1, 8, 8), 3, tmp_path / "raster.png")
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (10 + 48, T)  # one column per step, outputs then hidden neurons
    assert ax.get_xlim() == (-0.5, T - 0.5)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:10] == [f"digit {d}" for d in range(10)] and labels[10] == "hidden 0"
    assert (tmp_path / "raster.png").read_bytes()[:4] == b"\x89PNG"


def test_sj_demo_rejects_unknown_backend():
    from sj.backends.registry import BackendError

    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        main(["demo", "--epochs", "1", "--subset", "100", "--backend", "nope", "--no-progress"])


def test_sj_bench_json_reports_ratios(capsys):
    rc = main(["bench", "--T", "4", "--numel", "512", "--repeats", "1", "--neurons", "IFNode,CUBALIFNode",
               "--device", "cpu", "--json"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["copy_bandwidth_GBps"] > 0
    rows = data["rows"]
    torch_rows = [r for r in rows if r["backend"] == "torch"]
    assert {(r["neuron"], r["mode"]) for r in torch_rows} == {(n, m) for n in ("IFNode", "CUBALIFNode")
                                                              for m in ("fwd", "fwd+bwd")}
    for r in rows:
        if r["seconds"] is None:
            assert r["note"]  # a skipped backend always says why
        else:
            assert r["seconds"] > 0 and r["vs_floor"] > 0
            assert r["vs_torch"] is not None
    assert all(r["vs_torch"] == 1.0 for r in torch_rows)
    with pytest.raises(SystemExit, match="unknown neuron"):
        main(["bench", "--neurons", "NoSuchNode", "--numel", "8", "--repeats", "1"])


def test_sj_info(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert "sj-core" in info["sj"] and info["dependencies"]["torch"]
    assert info["devices"][0]["device"] == "cpu"
    assert any(p["name"] == "sj.cli.builtin_commands" and p["loaded"] for p in info["plugins"])
    assert main(["info"]) == 0
    assert "devices:" in capsys.readouterr().out
