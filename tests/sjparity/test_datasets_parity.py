"""sj.datasets against SpikingJelly 2.0's ``spikingjelly.datasets`` on the same synthetic files and events.

For every format, SpikingJelly's own loader (or its converter to ``.npz``) and its own integration functions make
the reference frames; sj's dataset class must give identical arrays (counts are integers: exact equality). Tiny
sensors and recordings keep this fast; no real dataset is read.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "datasets"))
import sjds_writers as W
from oracle import spikingjelly

import sj.datasets as ours
from sj.datasets.sj2_paths import SJ2_MODULES


@pytest.fixture(scope="module")
def sjd():
    return spikingjelly("datasets")


def sj_module(name: str):
    return spikingjelly(f"datasets.{name}")


def random_events(rng: np.random.Generator, n: int, H: int, W_: int, t_max: int = 10_000) -> dict[str, np.ndarray]:
    return {"t": np.sort(rng.integers(0, t_max, n)), "x": rng.integers(0, W_, n), "y": rng.integers(0, H, n),
            "p": rng.integers(0, 2, n)}


MODES = [dict(frames_number=4, split_by="number"), dict(frames_number=3, split_by="time"), dict(duration=700)]


def sj_frames(sjd, events: dict, mode: dict, H: int, W_: int) -> np.ndarray:
    if "duration" in mode:
        return sjd.integrate_events_by_fixed_duration(events, mode["duration"], H, W_)
    return sjd.integrate_events_by_fixed_frames_number(events, mode["split_by"], mode["frames_number"], H, W_)


def assert_frames(ds_factory, reference: list[np.ndarray], mode: dict) -> None:
    ds = ds_factory(data_type="frame", **mode)
    got = [ds[i][0].numpy() for i in range(len(ds))]
    assert len(got) == len(reference)
    for a, b in zip(got, reference):
        assert a.shape == b.shape and np.array_equal(a, b.astype(np.float32))


# --- integration functions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_integration_functions_equal_spikingjelly(sjd, seed: int):
    rng = np.random.default_rng(seed)
    e = random_events(rng, 500, 5, 7)
    for mode in MODES:
        ref = sj_frames(sjd, e, mode, 5, 7)
        if "duration" in mode:
            got = ours.integrate_events_by_fixed_duration(e, mode["duration"], 5, 7)  # default: SJ 2.0's windows
        else:
            got = ours.integrate_events_by_fixed_frames_number(e, mode["split_by"], mode["frames_number"], 5, 7)
        assert got.dtype == ref.dtype and np.array_equal(got, ref)
    for split_by in ("number", "time"):
        for a, b in zip(ours.cal_fixed_frames_number_segment_index(e["t"], split_by, 6),
                        sjd.cal_fixed_frames_number_segment_index(e["t"], split_by, 6)):
            assert np.array_equal(a, b)
    args = (e["x"], e["y"], e["p"], 5, 7)
    assert np.array_equal(ours.integrate_events_segment_to_frame(*args), sjd.integrate_events_segment_to_frame(*args))
    assert np.array_equal(ours.integrate_events_segment_to_frame(*args, 10, 300),
                          sjd.integrate_events_segment_to_frame(*args, 10, 300))


def test_collate_mask_split_and_temporal_delete_equal_spikingjelly(sjd):
    batch = [(torch.ones(3, 2), 0), (torch.ones(1, 2) * 2, 1)]
    for a, b in zip(ours.pad_sequence_collate(batch), sjd.pad_sequence_collate(batch)):
        assert torch.equal(a, b)
    lengths = torch.tensor([3, 1, 2])
    assert torch.equal(ours.padded_sequence_mask(lengths), sjd.padded_sequence_mask(lengths))
    assert torch.equal(ours.padded_sequence_mask(lengths, 5), sjd.padded_sequence_mask(lengths, 5))

    class Labelled(torch.utils.data.Dataset):
        targets = (0, 1, 2, 1, 0, 0, 2, 1, 1, 0, 2)

        def __len__(self):
            return len(self.targets)

        def __getitem__(self, i):
            return i, self.targets[i]

    for random_split in (False, True):
        np.random.seed(5)
        a = ours.split_to_train_test_set(0.6, Labelled(), 3, random_split)
        np.random.seed(5)
        b = sjd.split_to_train_test_set(0.6, Labelled(), 3, random_split)
        assert [s.indices for s in a] == [s.indices for s in b]

    x = torch.arange(2 * 6 * 3.0).reshape(2, 6, 3)
    for batch_first, seq in ((True, x), (False, x.transpose(0, 1))):
        np.random.seed(1)
        got = ours.RandomTemporalDelete(4, batch_first)(seq)
        np.random.seed(1)
        assert torch.equal(got, sjd.RandomTemporalDelete(4, batch_first)(seq))
        np.random.seed(2)
        got = ours.random_temporal_delete(seq.numpy(), 3, batch_first)
        np.random.seed(2)
        assert np.array_equal(got, sjd.random_temporal_delete(seq.numpy(), 3, batch_first))


def test_constants_equal_spikingjelly(sjd):
    assert (ours.SHD_N_CLASSES, ours.SSC_N_CLASSES) == (sjd.SHD_N_CLASSES, sjd.SSC_N_CLASSES)
    assert ours.CIFAR10DVS_CLASS_NAMES == sjd.CIFAR10DVS_CLASS_NAMES
    assert ours.BULLYING10K_CATEGORY_LABEL == sjd.BULLYING10K_CATEGORY_LABEL


# --- loaders, savers and file helpers -------------------------------------------------------------------------------

def test_loaders_equal_spikingjelly(sjd, tmp_path: Path):
    rng = np.random.default_rng(3)
    e = random_events(rng, 50, 128, 128)
    W.write_aedat31(tmp_path / "a.aedat", [(e["x"], e["y"], e["t"], e["p"])])
    got, ref = ours.load_aedat_v3(tmp_path / "a.aedat"), sjd.load_aedat_v3(tmp_path / "a.aedat")
    assert all(got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]) for k in "txyp")
    W.write_atis_bin(tmp_path / "a.bin", e["x"] % 34, e["y"] % 34, e["t"], e["p"])
    got, ref = ours.load_ATIS_bin(tmp_path / "a.bin"), sjd.load_ATIS_bin(tmp_path / "a.bin")
    assert all(got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]) for k in "txyp")
    frames = rng.integers(0, 5, (3, 2, 4, 4))
    sjd.np_savez(tmp_path / "theirs", frames=frames)
    ours.np_savez(tmp_path / "ours", frames=frames)
    for name in ("theirs.npz", "ours.npz"):
        a, b = ours.load_npz_frames(tmp_path / name), sjd.load_npz_frames(tmp_path / name)
        assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b)


@pytest.mark.parametrize("kind", ["number", "duration"])
def test_file_to_file_integration_equals_spikingjelly(sjd, tmp_path: Path, kind: str):
    e = random_events(np.random.default_rng(4), 300, 6, 5)
    W.write_events_npz(tmp_path / "in/s1.npz", e["x"], e["y"], e["t"], e["p"])
    base = sj_module("base")
    for lib, out in ((ours, tmp_path / "ours"), (sjd, tmp_path / "theirs")):
        out.mkdir()
        if kind == "number":
            r = lib.integrate_events_file_to_frames_file_by_fixed_frames_number(
                base._load_events, str(tmp_path / "in/s1.npz"), str(out), "time", 4, 6, 5)
        else:
            r = lib.integrate_events_file_to_frames_file_by_fixed_duration(
                base._load_events, str(tmp_path / "in/s1.npz"), str(out), 900, 6, 5)
        if lib is ours:
            ours_result = r
        else:
            assert r == ours_result
    assert sorted(os.listdir(tmp_path / "ours")) == sorted(os.listdir(tmp_path / "theirs"))
    for name in os.listdir(tmp_path / "ours"):
        assert np.array_equal(sjd.load_npz_frames(tmp_path / "ours" / name),
                              sjd.load_npz_frames(tmp_path / "theirs" / name))


def _tree(root: Path) -> list[tuple[str, str]]:
    out = []
    for p in sorted(root.rglob("*")):
        kind = f"link->{os.readlink(p)}" if p.is_symlink() else ("dir" if p.is_dir() else p.read_text())
        out.append((p.relative_to(root).as_posix(), kind))
    return out


@pytest.mark.parametrize("use_soft_link, randomly", [(True, False), (False, True)])
def test_directory_helpers_equal_spikingjelly(sjd, tmp_path: Path, use_soft_link: bool, randomly: bool):
    src = tmp_path / "src"
    for cls, n in (("a", 5), ("b", 3), ("c/deep", 4)):
        for i in range(n):
            (src / cls).mkdir(parents=True, exist_ok=True)
            (src / cls / f"{i}.npz").write_text(f"{cls}{i}")
    for lib, dst in ((ours, tmp_path / "ours"), (sjd, tmp_path / "theirs")):
        np.random.seed(9)
        lib.create_sub_dataset(str(src), str(dst), 0.5, use_soft_link=use_soft_link, randomly=randomly)
    assert _tree(tmp_path / "ours") == _tree(tmp_path / "theirs")
    for lib, dst in ((ours, tmp_path / "m_ours"), (sjd, tmp_path / "m_theirs")):
        dst.mkdir()
        lib.create_same_directory_structure(str(src), str(dst))
    assert _tree(tmp_path / "m_ours") == _tree(tmp_path / "m_theirs")


# --- the builder / config API ---------------------------------------------------------------------------------------

def _raw_root(root: Path) -> Path:
    rng = np.random.default_rng(6)
    for split in ("train", "test"):
        for cls in ("0", "1"):
            for i in range(2):
                e = random_events(rng, 80, 4, 6)
                W.write_events_npz(root / "events_np" / split / cls / f"s{i}.npz", e["x"], e["y"], e["t"], e["p"])
    return root / "events_np"


def _custom(events, H, W_):
    return np.stack([np.bincount(events["x"], minlength=W_)] * 2)


@pytest.mark.parametrize("mode", [dict(frames_number=3, split_by="number"), dict(duration=2000),
                                  dict(custom_integrate_function=_custom)])
def test_builders_write_the_files_spikingjelly_writes(tmp_path: Path, mode: dict):
    base = sj_module("base")
    builders = {"frames_number": "FrameFixedNumberBuilder", "duration": "FrameFixedDurationBuilder",
                "custom_integrate_function": "FrameCustomIntegrateBuilder"}
    cls = builders[next(k for k in mode if k in builders)]
    results = []
    for lib in (ours, base):
        root = tmp_path / lib.__name__
        raw = _raw_root(root)
        cfg = lib.NeuromorphicDatasetConfig(root=root, train=True, data_type="frame", **mode)
        processed, loader = getattr(lib, cls)(cfg, raw, 4, 6).build()
        files = sorted(p.relative_to(processed).as_posix() for p in processed.rglob("*.npz"))
        results.append((processed.name, files, [loader(str(processed / f)) for f in files]))
    (name_a, files_a, frames_a), (name_b, files_b, frames_b) = results
    assert name_a == name_b and files_a == files_b and len(files_a) == 8
    assert all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(frames_a, frames_b))


@pytest.mark.parametrize("kwargs", [dict(data_type="image"), dict(data_type="frame"),
                                    dict(data_type="frame", frames_number=2, duration=3),
                                    dict(data_type="frame", frames_number=0, split_by="number"),
                                    dict(data_type="frame", frames_number=2, split_by="space"),
                                    dict(data_type="frame", duration=1.5)])
def test_config_refuses_what_spikingjelly_refuses(tmp_path: Path, kwargs: dict):
    base = sj_module("base")
    with pytest.raises(ValueError) as theirs:
        base.NeuromorphicDatasetConfig(root=tmp_path, train=True, **kwargs)
    with pytest.raises(ValueError) as mine:
        ours.NeuromorphicDatasetConfig(root=tmp_path, train=True, **kwargs)
    assert str(mine.value) == str(theirs.value)


# --- datasets, one format each --------------------------------------------------------------------------------------

def _load_npz_dict(path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("mode", MODES)
def test_cifar10_dvs_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    ref_mod = sj_module("cifar10_dvs")
    rng = np.random.default_rng(7)
    refs = []
    for i, cls in enumerate(("airplane", "cat")):
        e = random_events(rng, 200, 128, 128)
        path = tmp_path / cls / f"cifar10_{cls}_{i}.aedat"
        W.write_aedat2(path, W.encode_dvs128_address(e["x"], e["y"], e["p"]), e["t"])
        refs.append(sj_frames(sjd, ref_mod._load_origin_data(path), mode, 128, 128))
    assert_frames(lambda **kw: ours.CIFAR10DVS(tmp_path, **kw), refs, mode)


def test_cifar10_dvs_tebn_split_equals_spikingjelly(tmp_path: Path):
    ref_mod = sj_module("cifar10_dvs")
    ref_mod._move_data(tmp_path / "theirs")  # SpikingJelly links cifar10_<class>_<i>.npz into train/ and test/
    numbers = (0, 99, 100, 999)
    for cls in ("dog", "frog"):
        for i in numbers:
            W.write_aedat2(tmp_path / "raw" / cls / f"cifar10_{cls}_{i}.aedat", [0], [1])
    for train in (True, False):
        ds = ours.CIFAR10DVSTEBNSplit(tmp_path / "raw", train=train)
        folder = tmp_path / "theirs" / ("train" if train else "test")
        expected = sorted(f"{cls}/cifar10_{cls}_{i}" for cls in ("dog", "frog") for i in numbers
                          if (folder / cls / f"cifar10_{cls}_{i}.npz").is_symlink())
        assert sorted(r.key[:-len(".aedat")] for r in ds.samples) == expected


@pytest.mark.parametrize("mode", MODES)
def test_dvs128_gesture_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    ref_mod = sj_module("dvs128_gesture")
    e = random_events(np.random.default_rng(8), 600, 128, 128, t_max=30_000)
    base = tmp_path / "DvsGesture"
    W.write_aedat31(base / "user01_led.aedat", [(e["x"], e["y"], e["t"], e["p"])])
    W.write_gesture_labels(base / "user01_led_labels.csv", [(3, 0, 9_000), (5, 9_000, 21_000), (11, 21_000, 29_000)])
    (base / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (base / "trials_to_test.txt").write_text("")
    out = tmp_path / "theirs"
    for label in range(11):
        (out / str(label)).mkdir(parents=True)
    ref_mod._split_aedat_files_to_np("user01_led", base / "user01_led.aedat", base / "user01_led_labels.csv", out)
    # SpikingJelly's DatasetFolder reads the class folders in string order ('10' < '2' < '4'), labels = that place
    folders = sorted(str(i) for i in range(11))
    refs = [sj_frames(sjd, _load_npz_dict(out / c / "user01_led_0.npz"), mode, 128, 128) for c in ("10", "2", "4")]
    assert_frames(lambda **kw: ours.DVS128Gesture(tmp_path, train=True, **kw), refs, mode)
    assert ours.DVS128Gesture(tmp_path, train=True).targets == [folders.index(c) for c in ("10", "2", "4")]


@pytest.mark.parametrize("mode", MODES)
def test_nmnist_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    rng = np.random.default_rng(9)
    refs = []
    for digit in (1, 4):
        e = random_events(rng, 150, 34, 34)
        W.write_atis_bin(tmp_path / f"Train/{digit}/0000{digit}.bin", e["x"], e["y"], e["t"], e["p"])
        refs.append(sj_frames(sjd, sjd.load_ATIS_bin(tmp_path / f"Train/{digit}/0000{digit}.bin"), mode, 34, 34))
    assert_frames(lambda **kw: ours.NMNIST(tmp_path, train=True, **kw), refs, mode)


@pytest.mark.parametrize("mode", MODES)
def test_asl_dvs_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    ref_mod = sj_module("asl_dvs")
    e = random_events(np.random.default_rng(10), 150, 180, 240)
    W.write_asl_mat(tmp_path / "c/c_0001.mat", e["t"], e["x"], e["y"], e["p"])
    ref_mod._read_mat_save_to_np(tmp_path / "c/c_0001.mat", tmp_path / "ref.npz")
    refs = [sj_frames(sjd, _load_npz_dict(tmp_path / "ref.npz"), mode, 180, 240)]
    assert_frames(lambda **kw: ours.ASLDVS(tmp_path, **kw), refs, mode)


@pytest.mark.parametrize("mode", MODES)
def test_dvs_lip_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    base = sj_module("base")
    e = random_events(np.random.default_rng(11), 150, 128, 128)
    path = tmp_path / "DVS-Lip/train/accused/0.npy"
    W.write_lip_npy(path, e["x"], e["y"], e["t"], e["p"].astype(bool))
    refs = [sj_frames(sjd, base._load_events(path), mode, 128, 128)]
    assert_frames(lambda **kw: ours.DVSLip(tmp_path, train=True, **kw), refs, mode)


@pytest.mark.parametrize("mode", MODES)
def test_hardvs_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    base = sj_module("base")
    rng = np.random.default_rng(12)
    refs = []
    lines = []
    for cls, name in (("action_002", "a"), ("action_010", "b")):
        e = random_events(rng, 150, 260, 346)
        path = tmp_path / "MINI_HARDVS_files" / cls / f"{name}.npz"
        W.write_events_npz(path, e["x"], e["y"], e["t"], e["p"])
        refs.append(sj_frames(sjd, base._load_events(path), mode, 260, 346))
        lines.append(f"{cls}/{name} {int(cls[-3:]) - 1}")
    (tmp_path / "train_label.txt").write_text("\n".join(lines) + "\n")
    assert_frames(lambda **kw: ours.HARDVS(tmp_path, "train", **kw), refs, mode)
    assert ours.HARDVS(tmp_path, "train").targets == [1, 9]


@pytest.mark.parametrize("mode", MODES)
def test_es_imagenet_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    ref_mod = sj_module("es_imagenet")
    rng = np.random.default_rng(13)
    refs = []
    for cls in ("class0", "class12"):
        pos = np.stack([rng.integers(0, 256, 60), rng.integers(0, 256, 60), rng.integers(0, 40, 60)], 1)
        neg = np.stack([rng.integers(0, 256, 50), rng.integers(0, 256, 50), rng.integers(0, 40, 50)], 1)
        path = tmp_path / "ES-imagenet-0.18/train" / cls / "s.npz"
        W.write_es_imagenet_npz(path, pos, neg)  # times collide: SpikingJelly's unstable sort order matters
        refs.append(sj_frames(sjd, ref_mod._load_events(path), mode, 256, 256))
    assert_frames(lambda **kw: ours.ESImageNet(tmp_path, train=True, **kw), refs, mode)


@pytest.mark.parametrize("mode", MODES)
def test_nav_gesture_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    ref_mod = sj_module("nav_gesture")
    rng = np.random.default_rng(14)
    e = random_events(rng, 200, 240, 304, t_max=5_000)
    t = e["t"] + 1000
    t[[20, 21, 22, 60, 100, 101]] = [5, 3, 2, 1, 0, 7]  # drops and negative steps: SpikingJelly's quirks
    path = tmp_path / "user01/user01_ri_0.dat"
    W.write_nav_dat(path, e["x"], e["y"], t, e["p"])
    tt, xy, p, _ = ref_mod._readATIS_tddat(str(path))
    refs = [sj_frames(sjd, {"t": tt, "x": xy[:, 0], "y": 239 - xy[:, 1], "p": p}, mode, 240, 304)]
    assert_frames(lambda **kw: ours.NAVGestureWalk(tmp_path, **kw), refs, mode)
    assert ours.NAVGestureSit(tmp_path).targets == [ours.NAVGestureSit(tmp_path).classes.index("ri")]


@pytest.mark.parametrize("mode", MODES)
def test_bullying10k_equals_spikingjelly(sjd, tmp_path: Path, mode: dict):
    ref_mod = sj_module("bullying10k")
    rng = np.random.default_rng(15)
    chunks = []
    for _ in range(3):
        e = random_events(rng, 70, 260, 346)
        chunks.append((e["x"], e["y"], e["t"], e["p"]))
    chunks[1] = tuple(np.asarray(c) for c in chunks[1])
    t_all = np.sort(np.concatenate([c[2] for c in chunks]))
    start = 0
    for k, c in enumerate(chunks):  # one time-ordered recording cut into chunks
        chunks[k] = (c[0], c[1], t_all[start:start + len(c[2])], c[3])
        start += len(c[2])
    W.write_bullying_npy(tmp_path / "raw/kicking/s0.npy", chunks)
    for i in range(1, 5):
        W.write_bullying_npy(tmp_path / f"raw/kicking/s{i}.npy", chunks[:1])
    out = tmp_path / "theirs"
    (out / "9").mkdir(parents=True)
    ref_mod._convert_npy_to_npz(tmp_path / "raw/kicking/s0.npy", out, 9)
    refs = [sj_frames(sjd, _load_npz_dict(out / "9/s0.npz"), mode, 260, 346)]
    assert_frames(lambda **kw: ours.Bullying10kClassification(tmp_path / "raw", train=False, **kw), refs, mode)


def _shd_file(path: Path, rng: np.random.Generator, labels: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    # Times k/64 s are exact in float32 seconds, in SpikingJelly's float milliseconds and in sj's integer µs.
    samples = [(np.sort(rng.integers(0, 64, 120)) / 64.0, rng.integers(0, 700, 120)) for _ in labels]
    W.write_hsd_h5(path, samples, labels)
    return samples


@pytest.mark.parametrize("mode", [dict(frames_number=4, split_by="number"), dict(frames_number=4, split_by="time"),
                                  dict(duration=30)])
def test_shd_equals_spikingjelly(tmp_path: Path, mode: dict):
    ref_mod = sj_module("shd")
    samples = _shd_file(tmp_path / "shd_train.h5", np.random.default_rng(16), [3, 17])
    refs = []
    for times, units in samples[::-1]:  # SpikingJelly's frame folders in string order: '17' before '3'
        ev = {"t": times.astype(np.float32), "x": units.astype(np.uint16)}
        if "duration" in mode:
            refs.append(ref_mod._integrate_events_by_fixed_duration(ev, mode["duration"], 700))
        else:
            refs.append(ref_mod._integrate_events_by_fixed_frames_number(ev, mode["split_by"],
                                                                         mode["frames_number"], 700))
    assert_frames(lambda **kw: ours.SpikingHeidelbergDigits(tmp_path, train=True, **kw), refs, mode)
    folders = sorted(str(i) for i in range(ours.SHD_N_CLASSES))
    frames = ours.SpikingHeidelbergDigits(tmp_path, train=True, data_type="frame", **mode)
    assert frames.targets == [folders.index("17"), folders.index("3")] and frames.classes[frames.targets[0]] == "17"
    assert ours.SpikingHeidelbergDigits(tmp_path, train=True).targets == [3, 17]  # events: the file's labels


# --- SpikingJelly's module paths ------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", sorted(SJ2_MODULES))
def test_spikingjelly_module_paths(module: str):
    """``spikingjelly.datasets.<module>``'s public names are at ``sj.datasets.<module>``, the objects of
    ``sj.datasets`` (e.g. ``from spikingjelly.datasets.utils import pad_sequence_collate`` migrates by its path)."""
    theirs = sj_module(module)
    path = importlib.import_module(f"sj.datasets.{module}")
    assert sorted(path.__all__) == sorted(theirs.__all__)
    for name in theirs.__all__:
        assert getattr(path, name) is getattr(ours, name), name
    with pytest.raises(AttributeError, match="has no attribute"):
        path.not_a_name  # noqa: B018


def test_every_spikingjelly_dataset_module_has_an_sj_path(sjd):
    theirs = {m.name for m in pkgutil.iter_modules(sjd.__path__)}
    assert theirs - {"speechcommands"} == set(SJ2_MODULES)  # sj.datasets.speechcommands is sj's own module
    speech = importlib.import_module("sj.datasets.speechcommands")
    assert all(getattr(speech, name) is getattr(ours, name) for name in sj_module("speechcommands").__all__)
