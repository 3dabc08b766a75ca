"""torch API, SpikingJelly-compatible constructors, splits, archives/checksums, plug-in and CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pytest
import sjds_writers as W
import torch

from sj.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    DVS128Gesture,
    NeuromorphicDataset,
    SpikingHeidelbergDigits,
    pad_sequence_collate,
    padded_sequence_mask,
    split_to_train_test_set,
    stratified_split,
)
from sj.datasets.archives import ensure_available
from sj.datasets.spec import Resource


def gesture_root(root: Path) -> Path:
    base = root / "DvsGesture"
    W.write_aedat31(base / "user01_led.aedat", [([1, 2, 3, 4], [1, 1, 2, 2], [0, 10, 20, 30], [1, 1, 0, 1])])
    W.write_gesture_labels(base / "user01_led_labels.csv", [(3, 0, 25), (4, 25, 40)])
    (base / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (base / "trials_to_test.txt").write_text("user01_led.aedat\n")
    return root


def test_spikingjelly_constructor_frames_and_transforms(tmp_path: Path):
    root = gesture_root(tmp_path)
    ds = DVS128Gesture(root, train=True, data_type="frame", frames_number=2, split_by="number",
                       transform=lambda x: x * 2, target_transform=lambda y: y + 100)
    frames, label = ds[0]
    assert isinstance(frames, torch.Tensor) and frames.dtype == torch.float32 and frames.shape == (2, 2, 128, 128)
    # sample 0 = events t 0, 10, 20 (x 1, 2, 3); di = 1 → frame 0: x1; frame 1: x2 (p1), x3 (p0); doubled
    assert frames[0, 1, 1, 1] == 2 and frames[1, 1, 1, 2] == 2 and frames[1, 0, 2, 3] == 2 and frames.sum() == 6
    assert label == 103  # class 3 → folder '2', third in SpikingJelly's string order '0', '1', '10', '2'
    events, _ = DVS128Gesture(root, train=False)[1]
    assert events["t"].tolist() == [30] and events["x"].tolist() == [4]


def test_spikingjelly_duration_and_custom_function(tmp_path: Path):
    root = gesture_root(tmp_path)
    ds = DVS128Gesture(root, True, "frame", duration=10)
    assert ds[0][0].shape[0] == 2  # grid (SpikingJelly 2.0): ceil(20 / 10) = 2 frames: t 0 | 10, 20
    assert ds[0][0][:, 1].sum((1, 2)).tolist() == [1, 1] and ds[0][0][1, 0, 2, 3] == 1
    calls = []

    def two_halves(events: dict, H: int, W: int) -> np.ndarray:
        calls.append((sorted(events), H, W))
        return np.ones((1, 1, H, W)) * len(events["t"])

    custom = DVS128Gesture(root, True, "frame", custom_integrate_function=two_halves,
                           custom_integrated_frames_dir_name="halves")
    assert custom[0][0][0, 0, 0, 0] == 3 and calls == [(["p", "t", "x", "y"], 128, 128)]
    assert custom.cache.directory.name.startswith("halves-")
    with pytest.raises(ValueError, match="exactly one of"):
        DVS128Gesture(root, True, "frame", frames_number=2, split_by="number", duration=5)


def test_shd_duration_in_ms_like_spikingjelly(tmp_path: Path):
    W.write_hsd_h5(tmp_path / "shd_train.h5", [([0.0, 0.0015, 0.0025], [1, 2, 3])], [0])
    ds = SpikingHeidelbergDigits(tmp_path, train=True, data_type="frame", duration=1)  # 1 ms
    frames = ds[0][0]
    assert frames.shape == (3, 700) and frames[0, 1] == 1 and frames[1, 2] == 1 and frames[2, 3] == 1


def test_pad_sequence_collate_and_mask():
    batch = [(torch.ones(3, 2), 0), (torch.ones(1, 2) * 2, 1)]
    x, y, lengths = pad_sequence_collate(batch)
    assert x.shape == (2, 3, 2) and x[1, 0].tolist() == [2, 2] and x[1, 1:].abs().sum() == 0
    assert y.tolist() == [0, 1] and lengths.tolist() == [3, 1]
    mask = padded_sequence_mask(lengths)
    assert mask.tolist() == [[True, True], [True, False], [True, False]]
    assert padded_sequence_mask(lengths, T=4).shape == (4, 2)


def test_stratified_split_reproducible_and_reads_no_sample(tmp_path: Path, monkeypatch):
    for cls in ("cl", "he"):
        for i in range(10):
            W.write_columns_npy(tmp_path / f"pips_train/{cls}/{i}.npy", [1], [1], [1], [1])
    ds = NeuromorphicDataset("poker_dvs", tmp_path, train=True)
    import sj.datasets.dataset as dataset_module

    monkeypatch.setattr(dataset_module, "read_events", lambda *a: pytest.fail("a sample was read"))
    a_train, a_test = stratified_split(ds, 0.7, seed=3)
    b_train, b_test = stratified_split(ds, 0.7, seed=3)
    assert a_train.indices == b_train.indices and a_test.indices == b_test.indices
    assert sorted(a_train.indices + a_test.indices) == list(range(20))
    labels = np.asarray(ds.targets)
    assert (labels[a_train.indices] == 0).sum() == 7 and (labels[a_train.indices] == 1).sum() == 7
    assert stratified_split(ds, 0.7, seed=4)[0].indices != a_train.indices
    sj_train, _ = split_to_train_test_set(0.5, ds, 2)
    assert sj_train.indices == list(range(5)) + list(range(10, 15))  # first half of each class, dataset order


def test_missing_dataset_is_not_downloaded(tmp_path: Path):
    with pytest.raises(DatasetNotFoundError, match=r"train\.zip \(md5 20959b8e626244a1b502305a9e6e2031\) from https"):
        NeuromorphicDataset("nmnist", tmp_path, train=True)
    assert list(tmp_path.iterdir()) == []


def test_archive_checksum_verified_then_extracted(tmp_path: Path):
    src = tmp_path / "src"
    W.write_columns_npy(src / "pips_train/cl/0.npy", [1], [1], [1], [1])
    root = tmp_path / "root"
    root.mkdir()
    archive = root / "pips_train.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        t.add(src / "pips_train", arcname="pips_train")
    good = hashlib.md5(archive.read_bytes()).hexdigest()
    from sj.datasets.catalog import get_spec

    wrong = Resource("pips_train.tar.gz", "0" * 32, "https://example.org/pips")
    spec = dataclasses.replace(get_spec("poker_dvs"), resources=lambda split: (wrong,))
    with pytest.raises(ChecksumError) as info:
        ensure_available(spec, root, "train")
    msg = str(info.value)
    assert str(archive) in msg and "0" * 32 in msg and good in msg and "https://example.org/pips" in msg
    assert not (root / "pips_train").exists()
    right = Resource("pips_train.tar.gz", good, "https://example.org/pips")
    ensure_available(dataclasses.replace(spec, resources=lambda split: (right,)), root, "train")
    assert (root / "pips_train/cl/0.npy").is_file() and archive.is_file()
    assert not [p for p in root.iterdir() if p.name.startswith(".extracting")]


def test_plugin_hooks_and_cli(tmp_path: Path, capsys):
    from sj.cli.main import main
    from sj.plugins.registry import collect, reset_registry

    reset_registry()
    providers = {p.name: p for p in collect("sj_dataset_providers")}
    assert {"dvs128_gesture", "dvs128_gesture_tonic", "cifar10_dvs", "nmnist", "ncaltech101", "shd", "ssc",
            "asl_dvs", "dvs_lip", "poker_dvs"} <= set(providers)
    ds = providers["dvs128_gesture"].factory(gesture_root(tmp_path), train=True)
    assert len(ds) == 2
    assert main(["datasets", "list"]) == 0
    assert "dvs128_gesture" in capsys.readouterr().out
    assert main(["datasets", "prepare", "dvs128_gesture", "--root", str(tmp_path), "--frames", "4",
                 "--split-by", "time", "--workers", "0", "--no-progress"]) == 0
    assert main(["datasets", "verify", "dvs128_gesture", "--root", str(tmp_path), "--read-samples"]) == 0
    entry = next((tmp_path / "sj_cache").rglob("*.sjf"))
    entry.write_bytes(entry.read_bytes()[:-1])
    assert main(["datasets", "verify", "dvs128_gesture", "--root", str(tmp_path)]) == 1
    assert "corrupt" in capsys.readouterr().err
    assert main(["datasets", "verify", "nmnist", "--root", str(tmp_path)]) == 1
