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
    # no backend named: the default choice, by a fixed order (no timing)
    assert re.search(r"^backend: \w+ \(the default: no backend named\) on cpu", out, re.M), out
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


@pytest.mark.parametrize("argv, message", [
    (["demo", "--backend", "nope"], r"^sj demo: unknown backend 'nope'; available here: torch\b"),
    (["demo", "--backend", "cupy"], r"^sj demo: (backend 'cupy' is unavailable here: .*|unknown backend 'cupy'); "
                                    r"available here: torch\b"),
    (["demo", "--device", "cuda:7"], r"^sj demo: --device cuda:7: "),
    (["demo", "--device", "gpu0"], r"^sj demo: --device 'gpu0' is not a device name"),
    (["demo", "--batch-size", "0"], r"^sj demo: --batch-size must be >= 1, got 0$"),
    (["demo", "--lr", "0"], r"^sj demo: --lr must be > 0, got 0.0$"),
    (["demo", "--plot", "/no/such/dir/x.png"], r"^sj demo: --plot /no/such/dir/x.png: the directory /no/such/dir "),
    (["bench", "--backends", "foo,torch"], r"^sj bench: unknown backend 'foo'; available here: torch\b"),
    (["bench", "--backends", "torch", "--repeats", "0"], r"^sj bench: --repeats must be >= 1, got 0$"),
    (["bench", "--numel", "-4"], r"^sj bench: --numel must be >= 1, got -4$"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_wrong_argument_ends_in_one_line_naming_it(argv, message):
    """The issue: `sj demo --backend cupy` ended in a 16-line traceback advising an API-only argument; `sj bench
    --backends foo` printed an empty table and exited 0. Now: one line, exit status 1, before any work."""
    if "cuda:7" in argv:
        import torch

        if torch.cuda.device_count() > 7:
            pytest.skip("this machine has a cuda:7")
    with pytest.raises(SystemExit) as exc:
        main(argv)
    text = str(exc.value.code)
    assert re.search(message, text) and "\n" not in text and "skip_unsupported" not in text, text


def test_a_backend_error_during_a_run_is_one_line_too(monkeypatch, capsys):
    from sj.backends.registry import BackendError

    def fails(cfg):
        raise BackendError("features.3: backend 'x' does not support this")

    monkeypatch.setattr("sj.demo.train.run_demo", fails)
    assert main(["demo", "--backend", "torch", "--no-progress"]) == 1
    assert capsys.readouterr().err == "sj demo: features.3: backend 'x' does not support this\n"


def test_the_console_command_prints_no_traceback():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "sj.cli.main", "bench", "--backends", "foo"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("sj bench: unknown backend 'foo'") and proc.stderr.count("\n") == 1, proc.stderr


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
