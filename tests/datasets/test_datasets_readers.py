"""Every raw format, synthesised here, reads back bit-exactly into canonical events; bad files name themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sjds_writers as W

from sj.datasets import DatasetFormatError, NeuromorphicDataset
from sj.datasets.events import EVENT_DTYPE, make_events


def assert_events(actual: np.ndarray, x, y, t, p) -> None:
    assert actual.dtype == EVENT_DTYPE
    expected = make_events(x, y, t, p)
    assert np.array_equal(actual, expected), f"\n{actual}\n!=\n{expected}"


X, Y, T, P = [3, 0, 33, 17], [1, 33, 0, 5], [10, 11, 2**20 + 7, 8_000_000], [1, 0, 1, 0]


def test_nmnist_atis(tmp_path: Path):
    W.write_atis_bin(tmp_path / "Train/3/00001.bin", X, Y, T, P)
    W.write_atis_bin(tmp_path / "Train/7/00002.bin", [1], [2], [5], [1])
    ds = NeuromorphicDataset("nmnist", tmp_path, train=True)
    assert [r.key for r in ds.samples] == ["Train/3/00001.bin", "Train/7/00002.bin"] and ds.targets == [3, 7]
    events, label = ds[0]
    assert label == 3
    assert_events(events, X, Y, T, P)


def test_ncaltech101_classes_from_folders(tmp_path: Path):
    W.write_atis_bin(tmp_path / "Caltech101/airplanes/image_0001.bin", [200, 239], [179, 0], [1, 2], [0, 1])
    W.write_atis_bin(tmp_path / "Caltech101/BACKGROUND_Google/image_0001.bin", [1], [1], [1], [1])
    ds = NeuromorphicDataset("ncaltech101", tmp_path, data_type="frame", frames_number=1, split_by="number")
    assert ds.classes == ("BACKGROUND_Google", "airplanes") and ds.targets == [0, 1]
    frames, _ = ds[1]
    assert frames.shape == (1, 2, 180, 240) and frames[0, 0, 179, 200] == 1 and frames[0, 1, 0, 239] == 1


def test_cifar10_dvs_aedat2(tmp_path: Path):
    x, y, t, p = [0, 127, 64], [0, 127, 5], [100, 200, 300], [0, 1, 1]
    W.write_aedat2(tmp_path / "cat/cifar10_cat_0.aedat", W.encode_dvs128_address(x, y, p), t)
    ds = NeuromorphicDataset("cifar10_dvs", tmp_path)
    assert ds.targets == [3]
    assert_events(ds[0][0], x, y, t, p)


def test_gesture_aedat31_cut_like_spikingjelly(tmp_path: Path):
    base = tmp_path / "DvsGesture"
    big = 2**31 + 50  # second overflow epoch
    W.write_aedat31(base / "user01_led.aedat", [([1, 2, 3], [4, 5, 6], [100, 150, 200], [1, 0, 1]),
                                                 ([7, 127], [8, 127], [250, 300], [0, 1]),
                                                 ([9], [9], [big], [1])])
    # gesture 1 = [100, 200) → events at 100, 150; gesture 11 = [200, 301) → 200, 250, 300
    W.write_gesture_labels(base / "user01_led_labels.csv", [(1, 100, 200), (11, 200, 301), (2, big, big + 1)])
    (base / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (base / "trials_to_test.txt").write_text("")
    ds = NeuromorphicDataset("dvs128_gesture", tmp_path, train=True)
    assert ds.targets == [0, 10, 1] and len(NeuromorphicDataset("dvs128_gesture", tmp_path, train=False)) == 0
    assert_events(ds[0][0], [1, 2], [4, 5], [100, 150], [1, 0])
    assert_events(ds[1][0], [3, 7, 127], [6, 8, 127], [200, 250, 300], [1, 0, 1])
    assert_events(ds[2][0], [9], [9], [big], [1])


def test_gesture_tonic_npy_ms_to_us(tmp_path: Path):
    W.write_columns_npy(tmp_path / "ibmGestureTrain/user02_natural/4.npy", [1, 2], [3, 4], [0, 1], [5, 6])
    ds = NeuromorphicDataset("dvs128_gesture_tonic", tmp_path, train=True)
    assert ds.targets == [4]
    assert_events(ds[0][0], [1, 2], [3, 4], [5000, 6000], [0, 1])


@pytest.mark.parametrize("name, prefix, split", [("shd", "shd", "train"), ("ssc", "ssc", "valid")])
def test_heidelberg_hdf5(tmp_path: Path, name, prefix, split):
    times = np.array([0.0, 0.25, 0.5, 1.375])  # exact in float32 → exact µs
    W.write_hsd_h5(tmp_path / f"{prefix}_{split}.h5", [(times, [0, 699, 3, 3]), ([0.125], [10])], [5, 19])
    ds = NeuromorphicDataset(name, tmp_path, split=split)
    assert ds.targets == [5, 19]
    assert_events(ds[0][0], [0, 699, 3, 3], 0, [0, 250_000, 500_000, 1_375_000], 0)
    fr = NeuromorphicDataset(name, tmp_path, split=split, data_type="frame", frames_number=2, split_by="time")
    frames = fr[0][0]
    # dt = 1.375 s / 2: frame 0 = t < 0.6875 s → units 0, 699, 3; frame 1 = unit 3
    assert frames.shape == (2, 700) and frames[0, [0, 699, 3]].tolist() == [1, 1, 1] and frames[1, 3] == 1
    assert frames.sum() == 4


def test_asl_dvs_mat_mirrors_both_axes_like_spikingjelly_2(tmp_path: Path):
    W.write_asl_mat(tmp_path / "b/b_0001.mat", [5, 9], [0, 239], [0, 179], [1, 0])
    ds = NeuromorphicDataset("asl_dvs", tmp_path)
    assert ds.targets == [1]
    assert_events(ds[0][0], [239, 0], [179, 0], [5, 9], [1, 0])


def test_dvs_lip_npy(tmp_path: Path):
    W.write_lip_npy(tmp_path / "DVS-Lip/test/accused/0.npy", [1, 127], [2, 0], [10, 20], [True, False])
    ds = NeuromorphicDataset("dvs_lip", tmp_path, train=False)
    assert ds.targets == [0] and len(ds.classes) == 100
    assert_events(ds[0][0], [1, 127], [2, 0], [10, 20], [1, 0])


def test_poker_dvs_npy(tmp_path: Path):
    W.write_columns_npy(tmp_path / "pips_train/pips_sp/0.npy", [1, 2], [3, 34], [0, 5], [1, 0])
    ds = NeuromorphicDataset("poker_dvs", tmp_path, train=True)
    assert ds.targets == [3]
    assert_events(ds[0][0], [3, 34], [0, 5], [1, 2], [1, 0])


def _truncate(path: Path, n: int) -> None:
    path.write_bytes(path.read_bytes()[:-n])


@pytest.mark.parametrize("setup, rel", [
    (lambda r: W.write_atis_bin(r / "Train/1/a.bin", X, Y, T, P), "Train/1/a.bin"),
    (lambda r: W.write_aedat2(r / "dog/a.aedat", [1, 2], [3, 4]), "dog/a.aedat"),
])
def test_truncated_file_error_names_file(tmp_path: Path, setup, rel):
    setup(tmp_path)
    _truncate(tmp_path / rel, 3)
    name = "nmnist" if rel.endswith(".bin") else "cifar10_dvs"
    ds = NeuromorphicDataset(name, tmp_path, train=True if name == "nmnist" else None)
    with pytest.raises(DatasetFormatError, match="truncated") as info:
        ds[0]
    assert str(tmp_path / rel) in str(info.value)


def test_truncated_aedat31_packet_names_file(tmp_path: Path):
    base = tmp_path / "DvsGesture"
    W.write_aedat31(base / "u.aedat", [([1, 2], [1, 2], [1, 2], [0, 1])])
    W.write_gesture_labels(base / "u_labels.csv", [(1, 0, 10)])
    (base / "trials_to_train.txt").write_text("u.aedat\n")
    _truncate(base / "u.aedat", 4)
    with pytest.raises(DatasetFormatError, match=r"u\.aedat: truncated AEDAT 3.1 packet"):
        NeuromorphicDataset("dvs128_gesture", tmp_path, train=True)[0]


def test_corrupt_hdf5_and_npy_name_file(tmp_path: Path):
    (tmp_path / "shd_test.h5").write_bytes(b"not hdf5")
    with pytest.raises(DatasetFormatError, match=r"shd_test\.h5: cannot read"):
        NeuromorphicDataset("shd", tmp_path, train=False)
    W.write_columns_npy(tmp_path / "pips_test/xcl/0.npy", [1], [2], [3])  # 3 columns instead of 4
    with pytest.raises(DatasetFormatError, match=r"0\.npy: expected an \[N, 4\] array"):
        NeuromorphicDataset("poker_dvs", tmp_path, train=False)[0]


def test_unsorted_raises_or_sorts_as_documented(tmp_path: Path):
    W.write_columns_npy(tmp_path / "pips_train/cl/0.npy", [5, 3, 4], [1, 2, 3], [1, 1, 1], [1, 0, 1])
    with pytest.raises(DatasetFormatError, match="timestamps decrease at event 1"):
        NeuromorphicDataset("poker_dvs", tmp_path, train=True)[0]
    events = NeuromorphicDataset("poker_dvs", tmp_path, train=True, unsorted="sort")[0][0]
    assert events["t"].tolist() == [3, 4, 5] and events["x"].tolist() == [2, 3, 1]


def test_unknown_class_folder_named(tmp_path: Path):
    W.write_atis_bin(tmp_path / "Train/x/1.bin", [1], [1], [1], [1])
    with pytest.raises(DatasetFormatError, match="Train/x: directory is not a known class"):
        NeuromorphicDataset("nmnist", tmp_path, train=True)
