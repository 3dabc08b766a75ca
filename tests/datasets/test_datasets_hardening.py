"""Hostile or unlucky conditions: shared caches, hostile indexes, unwritable caches, corrupt values, oversized
declarations. Each test fails on the code before the hardening (issue "Hardening") and passes after."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sjds_writers as W

from sj.cli.main import main
from sj.datasets import DatasetFormatError, NeuromorphicDataset
from sj.datasets import cache as cache_module
from sj.datasets.errors import UnsafePathError


def poker_root(root: Path) -> Path:
    for i, cls in enumerate(("cl", "he", "di", "sp")):
        W.write_columns_npy(root / f"pips_train/x{cls}/{i}.npy", [1, 2, 3], [i, 1, 2], [0, 3, 34], [1, 0, 1])
    return root


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


# --- temporaries of a shared cache ----------------------------------------------------------------------------------

def test_writers_with_the_same_pid_do_not_collide(tmp_path: Path, monkeypatch):
    # Containers sharing a cache run writers with equal PIDs; two threads of one process share one PID as well.
    target = tmp_path / "entry.sjf"
    both_written = threading.Barrier(2, timeout=20)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        both_written.wait()  # both temporaries are complete before either is renamed

    monkeypatch.setattr(cache_module.os, "fsync", fsync)
    errors: list[BaseException] = []

    def write(payload: bytes) -> None:
        try:
            cache_module.atomic_write(target, payload)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(bytes([k]) * 1000,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and target.read_bytes() in (b"\x01" * 1000, b"\x02" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["entry.sjf"]


_BLOCKED_WRITER = textwrap.dedent("""
    import os, sys, time, pathlib
    from sj.datasets import cache
    real_fsync = os.fsync
    def fsync(fd):
        real_fsync(fd)
        while True:
            time.sleep(1)  # a writer in the middle of its write, until killed
    os.fsync = fsync
    os.getpid = lambda: 2**22 + 1  # a PID of another namespace: above Linux's pid_max, so no process here has it
    cache.atomic_write(pathlib.Path(sys.argv[1]), b"payload")
""")


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks (fcntl) are POSIX")
def test_cleaner_keeps_live_writers_temporary_and_removes_killed_ones(tmp_path: Path):
    writer = subprocess.Popen([sys.executable, "-c", _BLOCKED_WRITER, str(tmp_path / "entry.sjf")])
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".*.tmp")):
            assert writer.poll() is None and time.monotonic() < deadline, "the writer never started its temporary"
            time.sleep(0.02)
        time.sleep(0.2)  # the temporary exists before it is locked; give the writer time to lock it
        cache = cache_module.FrameCache(tmp_path, tmp_path, {})
        assert cache.remove_orphan_temporaries() == [] and list(tmp_path.glob(".*.tmp"))  # live: kept
        writer.send_signal(signal.SIGKILL)  # not reaped yet: a zombie still holding its PID
        deadline = time.monotonic() + 30
        while not (removed := cache.remove_orphan_temporaries()):
            assert time.monotonic() < deadline, "the killed writer's temporary was never taken for an orphan"
            time.sleep(0.02)
        assert len(removed) == 1 and list(tmp_path.iterdir()) == []
    finally:
        writer.kill()
        writer.wait()


# --- index entries that lead out of the root or the cache -----------------------------------------------------------

def _gesture_with_trial(root: Path, trial: str, aedat: Path) -> None:
    W.write_aedat31(aedat, [([1, 2], [1, 1], [0, 10], [1, 0])])
    W.write_gesture_labels(aedat.with_name(aedat.stem + "_labels.csv"), [(1, 0, 20)])
    base = root / "DvsGesture"
    base.mkdir(parents=True, exist_ok=True)
    (base / "trials_to_train.txt").write_text(trial + "\n")
    (base / "trials_to_test.txt").write_text("")


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_trial_list_entries_outside_root_are_refused(tmp_path: Path, kind: str, capsys):
    root = tmp_path / "d1/d2/d3/root"
    victim = tmp_path / "victim/user09_led.aedat"
    trial = "../../../../../victim/user09_led.aedat" if kind == "dotdot" else str(victim)
    _gesture_with_trial(root, trial, victim)
    before = {p for p in tmp_path.rglob("*")}
    assert main(["datasets", "prepare", "dvs128_gesture", "--root", str(root), "--split", "train", "--frames", "1",
                 "--workers", "0", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "trials_to_train.txt" in err and "user09_led.aedat" in err
    assert not [p for p in set(tmp_path.rglob("*")) - before if p.suffix == ".sjf"]
    with pytest.raises(UnsafePathError, match=r"trials_to_train\.txt"):
        NeuromorphicDataset("dvs128_gesture", root, train=True)


def test_sample_links_pointing_out_of_root_are_refused(tmp_path: Path):
    root = poker_root(tmp_path / "root")
    outside = tmp_path / "secret.npy"
    W.write_columns_npy(outside, [1], [1], [1], [1])
    (root / "pips_train/xcl/9.npy").symlink_to(outside)
    with pytest.raises(UnsafePathError, match=r"secret\.npy"):
        NeuromorphicDataset("poker_dvs", root, train=True)


def test_cache_subfolder_linked_out_of_the_cache_is_refused(tmp_path: Path):
    root = poker_root(tmp_path / "root")
    ds = NeuromorphicDataset("poker_dvs", root, train=True, data_type="frame", frames_number=1, split_by="number",
                             cache_dir=tmp_path / "cache")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (ds.cache.directory / "pips_train").mkdir(parents=True)
    (ds.cache.directory / "pips_train/xcl").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="outside"):
        ds[0]
    assert list(elsewhere.iterdir()) == []


# --- read-only or full cache ------------------------------------------------------------------------------------------

def _fail_writes(monkeypatch, how: str) -> None:
    if how == "full":
        def fsync(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(cache_module.os, "fsync", fsync)
    else:
        def create(path: Path):
            raise OSError(errno.EROFS, "Read-only file system")
        monkeypatch.setattr(cache_module, "_create_locked_temporary", create)


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_unwritable_cache_serves_computed_frames_and_warns_once(tmp_path: Path, monkeypatch, how: str):
    root = poker_root(tmp_path / "root")
    ds = NeuromorphicDataset("poker_dvs", root, train=True, data_type="frame", frames_number=2, split_by="number",
                             cache_dir=tmp_path / "cache")
    first = ds[0][0].clone()  # written while the cache works
    before = tree(tmp_path / "cache")
    _fail_writes(monkeypatch, how)
    with pytest.warns(RuntimeWarning, match="cannot write the frame cache") as record:
        frames, label = ds[1]
        again, _ = ds[1]
    assert len(record) == 1 and label == ds.targets[1] and frames.sum() == 3 and np.array_equal(frames, again)
    assert np.array_equal(ds[0][0], first)  # the valid entry is still served
    assert tree(tmp_path / "cache") == before  # nothing lost, nothing half-written


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_prepare_on_unwritable_cache_exits_with_a_message(tmp_path: Path, monkeypatch, capsys, how: str):
    root = poker_root(tmp_path / "root")
    args = ["datasets", "prepare", "poker_dvs", "--root", str(root), "--split", "train", "--frames", "2",
            "--cache-dir", str(tmp_path / "cache"), "--workers", "0", "--no-progress"]
    assert main(args) == 0
    before = tree(tmp_path / "cache")
    W.write_columns_npy(root / "pips_train/xhe/1.npy", [5], [5], [5], [1])  # one stale entry to rebuild
    os.utime(root / "pips_train/xhe/1.npy", ns=(1, 1))
    capsys.readouterr()
    _fail_writes(monkeypatch, how)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot write the frame cache" in err and "Traceback" not in err
    assert ("No space left" if how == "full" else "Read-only") in err
    assert tree(tmp_path / "cache") == before  # entries and manifest kept as they were


# --- values the readers must refuse --------------------------------------------------------------------------------

@pytest.mark.parametrize("times, units, problem", [
    ([0.0, float("nan")], [1, 2], "spikes/times"),
    ([0.0, 1e30], [1, 2], "spikes/times"),
    ([0.0, -1.0], [1, 2], "spikes/times"),
    ([0.0, 0.1], [1, 700], "spikes/units"),
    ([0.0, 0.1, 0.2], [1, 2], "spikes/times has 3 values, spikes/units 2"),
])
def test_shd_bad_spikes_name_file_and_field(tmp_path: Path, times, units, problem):
    import h5py

    path = tmp_path / "shd_train.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", (1,), dtype=h5py.vlen_dtype(np.float32))[0] = np.asarray(times, np.float32)
        f.create_dataset("spikes/units", (1,), dtype=h5py.vlen_dtype(np.uint16))[0] = np.asarray(units, np.uint16)
        f["labels"] = np.asarray([0], np.uint16)
    ds = NeuromorphicDataset("shd", tmp_path, train=True)
    with pytest.raises(DatasetFormatError, match=problem) as info:
        ds[0]
    assert str(path) in str(info.value) and "row 0" in str(info.value)


@pytest.mark.parametrize("labels", [[-1], [1000], [0.7]])
def test_shd_bad_labels_name_file(tmp_path: Path, labels):
    import h5py

    path = tmp_path / "shd_train.h5"
    W.write_hsd_h5(path, [([0.0], [1])], [0])
    with h5py.File(path, "a") as f:
        del f["labels"]
        f["labels"] = np.asarray(labels, np.float64 if isinstance(labels[0], float) else np.int64)
    with pytest.raises(DatasetFormatError, match="labels") as info:
        NeuromorphicDataset("shd", tmp_path, train=True)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), 1e30, -5.0])
def test_float_timestamps_of_npy_releases_are_checked(tmp_path: Path, bad: float):
    path = tmp_path / "ibmGestureTrain/user01_led/0.npy"
    path.parent.mkdir(parents=True)
    np.save(path, np.asarray([[1, 1, 1, 0.5], [2, 2, 0, bad]], np.float64))  # x, y, p, t [ms]
    with pytest.raises(DatasetFormatError, match=r"t \(ms\)") as info:
        NeuromorphicDataset("dvs128_gesture_tonic", tmp_path, train=True)[0]
    assert str(path) in str(info.value)


def test_npy_declaring_more_than_its_file_is_refused_before_allocating(tmp_path: Path):
    path = poker_root(tmp_path) / "pips_train/xcl/0.npy"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 4), np.int64))
    header["shape"] = (1 << 25, 4)  # 1 GiB declared
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 64)
    ds = NeuromorphicDataset("poker_dvs", tmp_path, train=True)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetFormatError, match="declares") as info:
            ds[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value) and peak < 16 << 20


def test_hdf5_declaring_more_than_its_file_is_refused(tmp_path: Path):
    import h5py

    path = tmp_path / "shd_train.h5"
    W.write_hsd_h5(path, [([0.0], [1])], [0])
    with h5py.File(path, "a") as f:
        del f["labels"]
        f.create_dataset("labels", shape=(1 << 40,), dtype=np.int64, chunks=(1024,))  # 8 TiB of fill value
    with pytest.raises(DatasetFormatError, match="declares") as info:
        NeuromorphicDataset("shd", tmp_path, train=True)
    assert str(path) in str(info.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifo_sample_is_refused_not_read_forever(tmp_path: Path):
    root = poker_root(tmp_path)
    fifo = root / "pips_train/xcl/0.npy"
    fifo.unlink()
    os.mkfifo(fifo)
    ds = NeuromorphicDataset("poker_dvs", root, train=True)
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            ds[0]
            outcome.append(None)
        except BaseException as exc:  # checked below
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(20)
    if reader.is_alive():  # blocked on the FIFO: release it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
        pytest.fail("reading a FIFO sample blocked")
    assert isinstance(outcome[0], DatasetFormatError) and "not a regular file" in str(outcome[0])


def test_verify_reports_a_malformed_manifest(tmp_path: Path, capsys):
    root = poker_root(tmp_path)
    assert main(["datasets", "prepare", "poker_dvs", "--root", str(root), "--split", "train", "--frames", "1",
                 "--workers", "0", "--no-progress"]) == 0
    next(root.rglob("manifest.json")).write_text("[1, 2]")
    assert main(["datasets", "verify", "poker_dvs", "--root", str(root)]) == 1
    assert "manifest.json" in capsys.readouterr().err
