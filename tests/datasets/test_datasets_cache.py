"""The frame cache: atomic entries, corrupt/stale detection, kill-and-resume equality, failures by name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import sjds_writers as W
import torch

from sj.datasets import NeuromorphicDataset
from sj.datasets import cache as cache_module
from sj.datasets.catalog import get_spec
from sj.datasets.params import FrameParams
from sj.datasets.prepare import prepare


def make_gesture_root(root: Path, trials: int = 6, gestures: int = 10, events: int = 20_000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    base = root / "DvsGesture"
    names = []
    for k in range(trials):
        n = gestures * events
        t = np.sort(rng.integers(0, gestures * 1_000_000, n))
        W.write_aedat31(base / f"user{k:02d}_led.aedat",
                        [(rng.integers(0, 128, n), rng.integers(0, 128, n), t, rng.integers(0, 2, n))])
        W.write_gesture_labels(base / f"user{k:02d}_led_labels.csv",
                               [(g % 11 + 1, g * 1_000_000, (g + 1) * 1_000_000) for g in range(gestures)])
        names.append(f"user{k:02d}_led.aedat")
    (base / "trials_to_train.txt").write_text("\n".join(names) + "\n")
    (base / "trials_to_test.txt").write_text("")


def tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def frame_ds(root: Path, cache_dir: Path, **kw) -> NeuromorphicDataset:
    return NeuromorphicDataset("poker_dvs", root, train=True, data_type="frame", frames_number=kw.pop("frames", 2),
                               split_by="number", cache_dir=cache_dir, **kw)


@pytest.fixture
def poker_root(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    for i, cls in enumerate(("cl", "he", "di", "sp")):
        W.write_columns_npy(root / f"pips_train/x{cls}/{i}.npy", [1, 2, 3], [i, 1, 2], [0, 3, 34], [1, 0, 1])
    return root


def test_first_access_writes_entry_then_serves_it(poker_root: Path, tmp_path: Path):
    ds = frame_ds(poker_root, tmp_path / "c")
    i = [r.key for r in ds.samples].index("pips_train/xdi/2.npy")
    frames, label = ds[i]
    assert frames.dtype == torch.float32 and tuple(frames.shape) == (2, 2, 35, 35) and label == 2
    # events (t, x, y, p) = (1, 2, 0, 1), (2, 1, 3, 0), (3, 2, 34, 1); 2 frames: di = 1 → frame 0 = event 0,
    # frame 1 = events 1, 2; frames index [T, p, y, x]
    assert frames[0, 1, 0, 2] == 1 and frames[1, 0, 3, 1] == 1 and frames[1, 1, 34, 2] == 1 and frames.sum() == 3
    assert ds.cache.check(ds.samples[i])[0] == "ok"
    assert not list(ds.cache.directory.rglob("*.tmp"))


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_entry_detected_and_rebuilt(poker_root: Path, tmp_path: Path, damage: str):
    ds = frame_ds(poker_root, tmp_path / "c")
    good = ds[0][0].clone()
    path = ds.cache.path_of(ds.samples[0])
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-1] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray(b"garbage")
    path.write_bytes(bytes(data))
    assert ds.cache.check(ds.samples[0])[0].startswith("corrupt")
    assert ds.cache.load(ds.samples[0]) is None  # never served
    assert np.array_equal(ds[0][0], good) and ds.cache.check(ds.samples[0])[0] == "ok"


def test_stale_entry_when_source_changes(poker_root: Path, tmp_path: Path):
    ds = frame_ds(poker_root, tmp_path / "c")
    assert ds[0][0].sum() == 3
    W.write_columns_npy(poker_root / "pips_train/xcl/0.npy", [1, 2], [0, 0], [0, 0], [1, 1])
    os.utime(poker_root / "pips_train/xcl/0.npy", ns=(1, 1))  # a different mtime even on coarse clocks
    assert ds.cache.check(ds.samples[0])[0] == "stale: source changed"
    assert ds[0][0].sum() == 2


def test_stale_entry_when_library_version_changes(poker_root: Path, tmp_path: Path, monkeypatch):
    ds = frame_ds(poker_root, tmp_path / "c")
    ds[0]
    monkeypatch.setattr(cache_module, "library_version", lambda: "999.0")
    assert ds.cache.check(ds.samples[0])[0] == "stale: library_version changed"


def test_parameters_select_separate_caches(poker_root: Path, tmp_path: Path):
    a, b = frame_ds(poker_root, tmp_path / "c", frames=2), frame_ds(poker_root, tmp_path / "c", frames=3)
    assert a.cache.directory != b.cache.directory and b[0][0].shape[0] == 3 and a[0][0].shape[0] == 2
    assert a.cache.directory.name.startswith("frames_number_2_split_by_number-")


def test_prepare_reuses_builds_and_reports_bad_file(poker_root: Path, tmp_path: Path):
    bad = poker_root / "pips_train/xdi/2.npy"
    bad.write_bytes(b"\x93NUMPY truncated")
    orphan = tmp_path / "c/poker_dvs/train"
    params = FrameParams(frames_number=2, split_by="number")
    spec = get_spec("poker_dvs")
    samples, _ = spec.index(poker_root, "train")
    report = prepare("poker_dvs", poker_root, "train", params, samples=samples, cache_dir=tmp_path / "c",
                     num_workers=0, progress=False)
    assert (report.built, report.reused, list(report.failed)) == (3, 0, ["pips_train/xdi/2.npy"])
    assert str(bad) in report.failed["pips_train/xdi/2.npy"]
    directory = report.directory
    stale_tmp = directory / "pips_train/xcl/.0.npy.sjf.999999999.tmp"
    stale_tmp.write_bytes(b"partial")
    again = prepare("poker_dvs", poker_root, "train", params, samples=samples, cache_dir=tmp_path / "c",
                    num_workers=0, progress=False)
    assert (again.built, again.reused, len(again.failed)) == (0, 3, 1) and not stale_tmp.exists()
    manifest = cache_module.FrameCache(directory, poker_root, {}).read_manifest()
    assert manifest["complete"] is False and list(manifest["failed"]) == ["pips_train/xdi/2.npy"]
    assert sorted(manifest["entries"]) == ["pips_train/xcl/0.npy", "pips_train/xhe/1.npy", "pips_train/xsp/3.npy"]
    assert orphan.is_dir()


def _prepare_cmd(root: Path, cache_dir: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "sj.cli.main", "datasets", "prepare", "dvs128_gesture", "--root", str(root),
            "--split", "train", "--frames", "16", "--split-by", "number", "--cache-dir", str(cache_dir),
            "--workers", str(workers), "--no-progress"]


def test_kill_and_resume_equals_uninterrupted_run(tmp_path: Path):
    root = tmp_path / "raw"
    make_gesture_root(root)
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(_prepare_cmd(root, killed_dir, 2), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    entries: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        entries = list(killed_dir.rglob("*.sjf"))
        if len(entries) >= 5:
            break
        time.sleep(0.005)
    assert proc.poll() is None, f"prepare ended before it could be killed: {proc.stderr.read().decode()}"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI process and its worker processes, mid-run
    proc.wait()
    assert 5 <= len(list(killed_dir.rglob("*.sjf"))) < 60 and not list(killed_dir.rglob("manifest.json"))

    resumed = subprocess.run(_prepare_cmd(root, killed_dir, 2), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert " reused" in resumed.stdout and "0 failed" in resumed.stdout
    clean = subprocess.run(_prepare_cmd(root, clean_dir, 0), capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr

    killed_tree, clean_tree = tree(killed_dir), tree(clean_dir)
    assert sorted(killed_tree) == sorted(clean_tree) and len(clean_tree) == 61  # 60 entries + manifest
    assert all(killed_tree[k] == clean_tree[k] for k in clean_tree)


def test_cli_prepare_reports_failure_and_continues(tmp_path: Path):
    root = tmp_path / "raw"
    make_gesture_root(root, trials=2, gestures=2, events=100)
    data = (root / "DvsGesture/user01_led.aedat").read_bytes()
    (root / "DvsGesture/user01_led.aedat").write_bytes(data[:-10])
    res = subprocess.run(_prepare_cmd(root, tmp_path / "c", 0), capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    assert "2 built" in res.stdout and "2 failed" in res.stdout
    assert "user01_led.aedat: truncated AEDAT 3.1 packet" in res.stderr
