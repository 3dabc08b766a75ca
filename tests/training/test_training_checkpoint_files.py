"""save_checkpoint never writes a checkpoint that load_checkpoint cannot read (it refuses, naming the entry, or stores
NumPy scalars as Python numbers), keeps the previous file whole through failures and kills, flushes file and
directory to the disk, and deletes the temporaries of killed saves — only those."""

import os
import pathlib
import signal
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch

from sj.training import durable_file, load_checkpoint, portable, save_checkpoint


def _model():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def _dir_listing(d: pathlib.Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_numpy_scalars_in_extra_load_back_as_numbers(tmp_path):
    """The issue: np.float64 saved fine and load_checkpoint then failed with UnpicklingError."""
    path = tmp_path / "c.pt"
    extra = {"best": np.float64(0.9), "step": np.int64(7), "history": [np.float32(0.5), (np.bool_(True), "a")],
             np.int64(3): {"nested": np.float64(2.5)}}
    save_checkpoint(path, _model(), extra=extra)
    got = load_checkpoint(path, _model())
    assert got == {"best": 0.9, "step": 7, "history": [0.5, (True, "a")], 3: {"nested": 2.5}}
    assert type(got["best"]) is float and type(got["step"]) is int


@pytest.mark.parametrize("value, where, advice", [
    (np.zeros(3), r"extra\['metrics'\]", r"torch\.from_numpy"),
    (pathlib.Path("/runs/1"), r"extra\['metrics'\]", r"str\(value\)"),
    ({"deep": [1, object()]}, r"extra\['metrics'\]\['deep'\]\[1\]", "add_safe_globals"),
], ids=["array", "path", "object"])
def test_what_would_not_load_back_is_refused_before_writing(tmp_path, value, where, advice):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _model(), extra={"epoch": 1})
    before = path.read_bytes()
    with pytest.raises(TypeError, match=rf"save_checkpoint: {where} is a .*torch\.load\(weights_only=True\).*{advice}"):
        save_checkpoint(path, _model(), extra={"metrics": value})
    assert path.read_bytes() == before and _dir_listing(tmp_path) == ["c.pt"]


def test_state_outside_extra_is_checked_too(tmp_path):
    class Scheduler:  # a scheduler whose state holds a path: as unloadable as anything in extra
        def state_dict(self):
            return {"last_epoch": 3, "log_dir": pathlib.Path("/runs")}

    with pytest.raises(TypeError, match=r"scheduler\['log_dir'\] is a pathlib\."):
        save_checkpoint(tmp_path / "c.pt", _model(), scheduler=Scheduler())
    assert _dir_listing(tmp_path) == []


def test_the_file_is_read_back_before_it_replaces_the_old_one(tmp_path, monkeypatch):
    """What the entry check cannot foresee, loading the finished temporary catches (checks switched off here)."""
    path = tmp_path / "c.pt"
    save_checkpoint(path, _model(), extra={"epoch": 1})
    before = path.read_bytes()
    monkeypatch.setattr("sj.training.checkpoint.check_loadable", lambda value, where: None)
    with pytest.raises(TypeError, match=r"would not load back.*nothing was written"):
        save_checkpoint(path, _model(), extra={"log_dir": pathlib.Path("/runs")})
    assert path.read_bytes() == before and _dir_listing(tmp_path) == ["c.pt"]


def test_a_failing_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _model(), extra={"epoch": 1})

    def disk_full(obj, f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, _model(), extra={"epoch": 2})
    monkeypatch.undo()
    assert _dir_listing(tmp_path) == ["c.pt"] and load_checkpoint(path, _model()) == {"epoch": 1}


def test_file_and_directory_are_flushed(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real(fd)))
    save_checkpoint(tmp_path / "c.pt", _model())
    assert synced.count(False) >= 1 and synced[-1] is True  # the file, then the directory after the rename


_KILLED_SAVE = """
import os, signal, sys, torch
from sj.training import save_checkpoint
def killed(obj, f):
    f.write(b"x" * 4096); f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
torch.save = killed
save_checkpoint(sys.argv[1], torch.nn.Linear(3, 2), extra={"epoch": 2})
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process checks")
def test_a_killed_save_keeps_the_old_file_and_its_temporary_is_removed_later(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _model(), extra={"epoch": 1})
    proc = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path)], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    (left,) = [p for p in tmp_path.iterdir() if p.name != "c.pt"]
    assert left.name.startswith(f"c.pt.sjtmp-{socket.gethostname()}-") and left.stat().st_size == 4096
    assert load_checkpoint(path, _model()) == {"epoch": 1}  # the old checkpoint is whole

    # what must survive the next save's cleanup: a live writer's temporary, another host's, files sj did not name
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = socket.gethostname()
        kept = [f"c.pt.sjtmp-{host}-{sleeper.pid}-0123abcd", "c.pt.sjtmp-elsewhere-1-0123abcd",
                f"c.pt.sjtmp-{host}-{os.getpid()}-0123abcd", "c.pt.bak", "d.pt.sjtmp-x-1-0123abcd"]
        for name in kept:
            (tmp_path / name).write_bytes(b"keep")
        save_checkpoint(path, _model(), extra={"epoch": 3})
        assert _dir_listing(tmp_path) == sorted(["c.pt", *kept])
    finally:
        sleeper.kill()
        sleeper.wait()
    assert durable_file.remove_stale_temporaries(path) == [tmp_path / kept[0]]  # its writer is gone now


def test_temporaries_of_an_earlier_sj_are_pointed_out_not_deleted(tmp_path):
    path = tmp_path / "c.pt"
    (tmp_path / "c.pt.tmp4242").write_bytes(b"x" * 1024)
    durable_file._warned.discard(path)
    with pytest.warns(RuntimeWarning, match=r"1 temporary file\(s\) beside .*c\.pt.*earlier sj.*c\.pt\.tmp4242"):
        save_checkpoint(path, _model())
    assert (tmp_path / "c.pt.tmp4242").exists()


def test_plain_keeps_container_types():
    from collections import Counter, OrderedDict

    value = OrderedDict(a=Counter(x=np.int64(2)), b=(np.float64(1.0),))
    out = portable.plain(value)
    assert type(out) is OrderedDict and type(out["a"]) is Counter and out["a"]["x"] == 2 and type(out["b"]) is tuple
