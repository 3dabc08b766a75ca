"""sj.monitor against SpikingJelly 2.0.0's: the same records (values, order, per-layer lists) from the same network,
for every hook kind, including modules with several inputs or outputs and ``instance=None``; and GPUMonitor: the same
nvidia-smi query, the same samples counted."""

from __future__ import annotations

import os
import stat

import pytest
import torch
from layers_parity_common import assert_close_max, sj2
from torch import nn

from sj import monitor
from sj.monitor import GPUMonitor

M = sj2("monitor")


class Pair(nn.Module):
    """Two inputs, two outputs: what a monitor records when the hook's value is not a single tensor."""

    def forward(self, a, b):
        return a * b, a + b


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.pair = Pair()
        self.act = nn.Tanh()

    def forward(self, x):
        p, q = self.pair(self.fc(x), x)
        return self.act(p) + q


def _records(lib, kind: str, instance, x):
    torch.manual_seed(0)
    net = Net().double()
    args = ("v", False, net, instance) if kind == "AttributeMonitor" else (net, instance)
    if kind == "AttributeMonitor":
        net.act.v = torch.ones(1, dtype=torch.float64)
    with getattr(lib, kind)(*args) as mon:
        net(x).sum().backward()
        net(x * 2).sum().backward()
        by_name = {name: mon[name] for name in mon.monitored_layers}
        mon[mon.monitored_layers[0]].clear()  # a lookup is a new list: the monitor keeps its records
    return list(mon.records), by_name, list(mon.monitored_layers), len(mon.hooks)


@pytest.mark.parametrize("kind", ["OutputMonitor", "InputMonitor", "GradInputMonitor", "GradOutputMonitor",
                                  "AttributeMonitor"])
@pytest.mark.parametrize("instance", [None, nn.Linear, Pair, nn.Tanh, (Pair, nn.Tanh)])
def test_monitors_record_what_spikingjelly_records(kind, instance):
    if kind == "AttributeMonitor" and instance is not nn.Tanh:
        return  # only the Tanh has the attribute
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    ours, theirs = _records(monitor, kind, instance, x), _records(M, kind, instance, x)
    assert ours[2] == theirs[2] and ours[3] == 0 == theirs[3]  # the `with` block closed the monitor: no hooks left
    assert_close_max(ours[0], theirs[0], 0.0, "records")
    assert ours[1].keys() == theirs[1].keys()
    for name in ours[1]:
        assert_close_max(ours[1][name], theirs[1][name], 0.0, f"records of {name!r}")


def test_monitor_close_stops_recording_and_keeps_records():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    mon = monitor.OutputMonitor(net, nn.ReLU)
    net(torch.ones(1, 2))
    mon.close()
    net(torch.ones(1, 2))
    assert len(mon.records) == 1 and not mon.is_enable() and not net[1]._forward_hooks


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
