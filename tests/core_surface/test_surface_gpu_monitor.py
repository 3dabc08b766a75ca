"""sj.monitor.GPUMonitor with a stand-in nvidia-smi (a script on PATH): samples, TensorBoard-less logging, the errors
that stop it, and the clear failure where nvidia-smi is missing."""

from __future__ import annotations

import os
import stat

import pytest

from sj.monitor import GPUMonitor


def fake_nvidia_smi(directory, stdout: str, code: int = 0):
    """Put an ``nvidia-smi`` on PATH that prints ``stdout`` (and its arguments to ``args.txt``) and exits ``code``."""
    script = directory / "nvidia-smi"
    script.write_text(f"#!/bin/sh\necho \"$@\" > '{directory}/args.txt'\nprintf '{stdout}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"


def test_samples_every_interval(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "0, 37, 1024\\n1, 5, 20\\n"))
    with caplog.at_level("INFO", logger="sj.monitor"):
        mon = GPUMonitor(gpu_ids=(0, 1), interval=0.01)
        while mon.step < 3 and mon.is_alive():
            mon.join(0.01)
        mon.stop()
        mon.join(5)
    assert not mon.is_alive() and mon.error is None
    assert mon.records[:2] == [(0, 0, 37, 1024), (0, 1, 5, 20)] and mon.records[2][0] == 1
    assert (tmp_path / "args.txt").read_text().split()[-2:] == ["-i", "0,1"]
    assert "GPU sample 0" in caplog.text


@pytest.mark.parametrize("stdout,code,reason", [("0, 37\\n", 0, "malformed"), ("", 0, "no data"),
                                                ("", 9, "exited with code 9")])
def test_failing_query_stops_the_thread(tmp_path, monkeypatch, stdout, code, reason):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, stdout, code))
    mon = GPUMonitor(interval=0.01)
    mon.join(5)
    assert not mon.is_alive() and reason in mon.error and mon.records == []


def test_without_nvidia_smi_or_with_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no nvidia-smi
    with pytest.raises(RuntimeError, match="nvidia-smi, which is not on PATH"):
        GPUMonitor()
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "0, 1, 2\\n"))
    with pytest.raises(ValueError, match="gpu_ids"):
        GPUMonitor(gpu_ids=())
    with pytest.raises(ValueError, match="interval"):
        GPUMonitor(interval=0)
    mon = GPUMonitor(start_now=False)
    assert not mon.is_alive() and mon.sample() == [(0, 1, 2)]


def test_log_dir_writes_tensorboard_scalars_or_says_it_needs_tensorboard(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_nvidia_smi(tmp_path, "0, 1, 2\\n"))
    try:
        mon = GPUMonitor(log_dir=str(tmp_path), interval=0.01)
    except ImportError as exc:  # at construction, not later in the thread
        assert "needs the tensorboard package" in str(exc)
        return
    while mon.step < 1 and mon.is_alive():
        mon.join(0.01)
    mon.stop()
    mon.join(5)
    assert mon.error is None and any((tmp_path / "gpu_monitor").iterdir())
