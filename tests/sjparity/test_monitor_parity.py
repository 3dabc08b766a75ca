"""sj.monitor.GPUMonitor against SpikingJelly 2.0.0's: the same nvidia-smi query, the same samples counted."""

from __future__ import annotations

import os
import stat

from layers_parity_common import sj2

from sj.monitor import GPUMonitor

M = sj2("monitor")


def test_gpu_monitor_same_query_and_samples(tmp_path, monkeypatch):
    script = tmp_path / "nvidia-smi"
    script.write_text("#!/bin/sh\nprintf '0, 12, 345\\n'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monitors = [GPUMonitor(gpu_ids=(0, 2), interval=0.01), M.GPUMonitor(gpu_ids=(0, 2), interval=0.01)]
    for mon in monitors:
        while mon.step < 2 and mon.is_alive():
            mon.join(0.01)
        mon.stop()
        mon.join(5)
    ours, theirs = monitors
    assert ours.command == theirs.command
    assert ours.step >= 2 and theirs.step >= 2 and ours.records[0] == (0, 0, 12, 345)
