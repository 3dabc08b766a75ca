"""The SpikingJelly 2.0 names sj.datasets adds beyond the parity tests: the NeuromorphicDatasetFolder API as a user
subclasses it, Speech Commands without torchaudio, pictures, and the refusals of the new readers."""

from __future__ import annotations

import io
import os
import pickle
import wave
from pathlib import Path

import numpy as np
import pytest
import sjds_writers as W
import torch

import sj.datasets as D
from sj.datasets import DatasetFormatError
from sj.datasets.errors import UnsafePathError


class Toy(D.NeuromorphicDatasetFolder):
    """A dataset defined the SpikingJelly way: four raw samples in class folders '2' and '10'."""

    @classmethod
    def get_H_W(cls):
        return 3, 4

    @classmethod
    def resource_url_md5(cls):
        return [("toy.bin", "https://example.org/toy.bin", None)]

    @classmethod
    def downloadable(cls):
        return False

    @classmethod
    def extract_downloaded_files(cls, download_root, extract_root):
        (extract_root / "done").write_text("")

    @classmethod
    def create_raw_from_extracted(cls, extract_root, raw_root):
        for split in ("train", "test"):
            for label in ("2", "10"):
                for i in range(2):
                    k = int(label) + i
                    W.write_events_npz(raw_root / split / label / f"s{i}.npz", [k % 4, 1], [0, 2], [0, 5], [1, 0])


def test_neuromorphic_dataset_folder_subclass_runs_like_spikingjelly(tmp_path: Path):
    (tmp_path / "download").mkdir()
    (tmp_path / "download/toy.bin").write_bytes(b"x")
    events = Toy(tmp_path, train=True)
    assert events.classes == ["10", "2"] and events.targets == [0, 0, 1, 1]  # DatasetFolder: sorted folder names
    sample, label = events[2]
    assert label == 1 and sorted(sample) == ["p", "t", "x", "y"] and sample["x"].tolist() == [2, 1]
    frames = Toy(tmp_path, train=False, data_type="frame", frames_number=2, split_by="number",
                 transform=torch.as_tensor)
    x, y = frames[0]
    assert x.dtype == torch.float32 and tuple(x.shape) == (2, 2, 3, 4) and y == 0
    assert x[0, 1, 0, 10 % 4] == 1 and x[1, 0, 2, 1] == 1 and x.sum() == 2
    assert (tmp_path / "frames_number_2_split_by_number/test/10/s0.npz").is_file()
    assert not list(tmp_path.glob("*.building")) and not list(tmp_path.rglob(".*.tmp"))


def test_interrupted_folder_build_resumes(tmp_path: Path, monkeypatch):
    (tmp_path / "download").mkdir()
    (tmp_path / "download/toy.bin").write_bytes(b"x")
    Toy(tmp_path, train=True)  # raw files
    import sj.datasets.folder as folder_module

    calls = []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = folder_module.integrate_events_file_to_frames_file_by_fixed_duration
    monkeypatch.setattr(folder_module, "integrate_events_file_to_frames_file_by_fixed_duration", failing)
    monkeypatch.setenv("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS", "1")
    with pytest.raises(KeyboardInterrupt):
        Toy(tmp_path, train=True, data_type="frame", duration=3)
    assert (tmp_path / "duration_3.building").exists()
    monkeypatch.setattr(folder_module, "integrate_events_file_to_frames_file_by_fixed_duration", real)
    ds = Toy(tmp_path, train=True, data_type="frame", duration=3)  # SpikingJelly would refuse until cleaned
    assert len(ds) == 4 and ds[0][0].shape == (2, 2, 3, 4) and not (tmp_path / "duration_3.building").exists()


def test_folder_refuses_links_out_of_root_and_reports_missing_downloads(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotImplementedError, match=r"toy\.bin"):  # not downloadable: say what to fetch
        Toy(tmp_path / "empty", train=True)
    (tmp_path / "r/download").mkdir(parents=True)
    (tmp_path / "r/download/toy.bin").write_bytes(b"x")
    Toy(tmp_path / "r", train=True)
    W.write_events_npz(tmp_path / "outside.npz", [0], [0], [0], [0])
    (tmp_path / "r/events_np/train/2/evil.npz").symlink_to(tmp_path / "outside.npz")
    with pytest.raises(UnsafePathError, match="outside"):
        Toy(tmp_path / "r", train=True)


# --- Speech Commands ------------------------------------------------------------------------------------------------

def _wav(path: Path, samples, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, "<i2").tobytes())


def _speech_root(root: Path) -> Path:
    base = root / "SpeechCommands/speech_commands_v0.02"
    _wav(base / "yes/a_nohash_0.wav", [0, 100, -200, 50])
    _wav(base / "yes/b_nohash_0.wav", [1, 2, 3, 4])
    _wav(base / "no/c_nohash_0.wav", [-32768, 16384, 0, 1])
    _wav(base / "no/d_nohash_0.wav", [7, 7, 7, 7])
    _wav(base / "_background_noise_/noise.wav", np.arange(-50, 50) * 100)
    (base / "validation_list.txt").write_text("no/d_nohash_0.wav\n")
    (base / "testing_list.txt").write_text("yes/b_nohash_0.wav\n")
    return root


def test_speech_commands_reads_wav_like_torchaudio(tmp_path: Path):
    labels = {"yes": 0, "no": 1, "_silence_": 2}
    ds = D.SpeechCommands(labels, _speech_root(tmp_path), silence_cnt=2, silence_size=10)
    assert ds._walker == ["no/c_nohash_0.wav", "yes/a_nohash_0.wav"] and len(ds) == 4
    x, y = ds[1]
    assert y == 0 and x.dtype == torch.float32 and x.shape == (1, 4)
    assert torch.allclose(x, torch.tensor([[0, 100, -200, 50]]) / 32768 / (200 / 32768))
    # SpikingJelly's weights: inverse class frequencies (1, 1) and 1 / silence_cnt, each over their sum 2.5
    assert torch.allclose(ds.weights, torch.tensor([0.4, 0.4, 0.2, 0.2], dtype=torch.float64))
    np.random.seed(0)
    import random

    random.seed(0)
    silence, label = ds[3]
    assert label == 2 and silence.shape == (1, 10) and silence.abs().max() == 1
    assert [D.SpeechCommands(labels, tmp_path, split=s)._walker for s in ("val", "test")] == \
        [["no/d_nohash_0.wav"], ["yes/b_nohash_0.wav"]]
    assert D.SPEECHCOMMANDS is D.SpeechCommands


def test_speech_commands_refusals(tmp_path: Path):
    labels = {"yes": 0, "no": 1}
    with pytest.raises(ValueError, match="split"):
        D.SpeechCommands(labels, tmp_path, split="dev")
    with pytest.raises(FileNotFoundError, match="download=True"):
        D.SpeechCommands(labels, tmp_path)
    root = _speech_root(tmp_path)
    (root / "SpeechCommands/speech_commands_v0.02/testing_list.txt").write_text("../../../etc/passwd\n")
    with pytest.raises(UnsafePathError, match=r"testing_list\.txt"):
        D.SpeechCommands(labels, root, split="test")
    wav = root / "SpeechCommands/speech_commands_v0.02/yes/a_nohash_0.wav"
    data = bytearray(wav.read_bytes())
    data[40:44] = (10**9).to_bytes(4, "little")  # the data chunk declares 1 GB
    wav.write_bytes(bytes(data))
    with pytest.raises(DatasetFormatError, match="declares"):
        D.speechcommands.load_wav(wav)


# --- pictures --------------------------------------------------------------------------------------------------------

def test_play_frame_gif_and_save_as_pic(tmp_path: Path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    x = np.zeros((3, 2, 4, 5), np.float32)
    x[0, 0, 1, 2] = 1  # OFF → green
    x[1, 1, 3, 4] = 1  # ON → blue
    x[2, :, 0, 0] = 1
    D.play_frame(torch.from_numpy(x), tmp_path / "f.gif")
    with Image.open(tmp_path / "f.gif") as gif:
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
    assert len(frames) == 3
    assert frames[0][1, 2].tolist() == [0, 255, 0] and frames[1][3, 4].tolist() == [0, 0, 255]
    assert frames[2][0, 0].tolist() == [0, 255, 255] and frames[0].sum() == 255
    D.save_as_pic(x, tmp_path, "pic")
    assert sorted(p.name for p in tmp_path.glob("pic_*.png")) == ["pic_0.png", "pic_1.png", "pic_2.png"]
    with pytest.raises(ValueError, match=r"\[T, 2, H, W\]"):
        D.play_frame(np.zeros((2, 3, 4)), tmp_path / "bad.gif")


# --- refusals of the new readers ------------------------------------------------------------------------------------

class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_object_npy_that_would_run_code_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "raw/kicking/s0.npy"
    path.parent.mkdir(parents=True)
    header = np.lib.format.header_data_from_array_1_0(np.empty(1, dtype=object))
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    path.write_bytes(buf.getvalue() + pickle.dumps(_RunsCode(), protocol=3))
    ds = D.Bullying10kClassification(tmp_path / "raw", train=False)
    with pytest.raises(DatasetFormatError, match="refused"):
        ds[0]
    assert not (tmp_path / "pwned").exists()


def test_npz_member_declaring_more_than_it_holds_is_refused(tmp_path: Path):
    path = tmp_path / "frames.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.float64))
    header["shape"] = (1 << 27,)
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("frames.npy", member.getvalue() + b"\0" * 16)
    with pytest.raises(DatasetFormatError, match="declares"):
        D.load_npz_frames(path)


def test_index_entries_of_new_datasets_stay_inside_root(tmp_path: Path):
    W.write_events_npz(tmp_path / "MINI_HARDVS_files/action_001/a.npz", [1], [1], [1], [1])
    (tmp_path / "train_label.txt").write_text("action_001/../../../x 0\n")
    with pytest.raises(UnsafePathError, match=r"train_label\.txt"):
        D.HARDVS(tmp_path, "train")
    W.write_es_imagenet_npz(tmp_path / "ES-imagenet-0.18/train/class3/a.npz", [[1, 2, 3]], [[4, 5, 6]])
    (tmp_path / "ES-imagenet-0.18/val").mkdir()
    (tmp_path / "ES-imagenet-0.18/vallabel.txt").write_text("../../x.npz 3\n")
    with pytest.raises(UnsafePathError, match=r"vallabel\.txt"):
        D.ESImageNet(tmp_path, train=False)


def test_index_errors_of_new_datasets_name_the_entry(tmp_path: Path):
    from sj.datasets.paths import safe_file_name

    for bad in ("a/b.npz", "a\\b.npz", ".", ".."):
        with pytest.raises(UnsafePathError, match=r"^idx\.txt: sample .* is not a file name in val$"):
            safe_file_name(bad, "idx.txt", "sample", Path("val"))
    assert safe_file_name("a.npz", "idx.txt", "sample", Path("val")) == "a.npz"
    W.write_events_npz(tmp_path / "MINI_HARDVS_files/action_300/a.npz", [1], [1], [1], [1])
    (tmp_path / "train_label.txt").write_text("action_300/a 299\n")
    assert D.HARDVS(tmp_path, "train").targets == [299]
    (tmp_path / "train_label.txt").write_text("action_301/a 300\n")
    with pytest.raises(DatasetFormatError, match=r"label\.txt: class action_301 outside action_001\.\.action_300$"):
        D.HARDVS(tmp_path, "train")
    W.write_es_imagenet_npz(tmp_path / "ES-imagenet-0.18/train/class3/a.npz", [[1, 2, 3]], [[4, 5, 6]])
    (tmp_path / "ES-imagenet-0.18/val").mkdir()
    (tmp_path / "ES-imagenet-0.18/vallabel.txt").write_text("sub/x.npz 3\n")
    with pytest.raises(UnsafePathError, match=r"vallabel\.txt: sample 'sub/x\.npz' is not a file name in .*val$"):
        D.ESImageNet(tmp_path, train=False)
    (tmp_path / "ES-imagenet-0.18/vallabel.txt").write_text("x.npz 7\n")
    with pytest.raises(DatasetFormatError, match=r"line 'x\.npz 7': no train class folder 'class7'$"):
        D.ESImageNet(tmp_path, train=False)


def test_folder_frame_build_mirrors_the_raw_tree_and_resumes_over_existing_folders(tmp_path: Path):
    (tmp_path / "download").mkdir()
    (tmp_path / "download/toy.bin").write_bytes(b"x")
    Toy(tmp_path, train=True)  # raw files
    (tmp_path / "events_np/empty/deeper").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    W.write_events_npz(tmp_path / "elsewhere/never.npz", [0], [0], [0], [0])
    (tmp_path / "events_np/train/linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "frames_number_1_split_by_number/train/2").mkdir(parents=True)  # left by an interrupted build
    (tmp_path / "frames_number_1_split_by_number.building").touch()
    Toy(tmp_path, train=False, data_type="frame", frames_number=1, split_by="number")
    out = tmp_path / "frames_number_1_split_by_number"
    assert sorted(p.relative_to(out).as_posix() + ("/" if p.is_dir() else "") for p in out.rglob("*")) == [
        "empty/", "empty/deeper/", "test/", "test/10/", "test/10/s0.npz", "test/10/s1.npz", "test/2/",
        "test/2/s0.npz", "test/2/s1.npz", "train/", "train/10/", "train/10/s0.npz", "train/10/s1.npz", "train/2/",
        "train/2/s0.npz", "train/2/s1.npz", "train/linked/"]  # a linked folder is made, not entered
    assert not (out / "train/linked").is_symlink() and not list(tmp_path.glob("*.building"))


def test_new_datasets_use_the_crash_safe_cache_and_es_imagenet_test_labels(tmp_path: Path):
    for cls in ("class0", "class1", "class10"):
        W.write_es_imagenet_npz(tmp_path / f"ES-imagenet-0.18/train/{cls}/a.npz", [[1, 2, 3]], [[4, 5, 6]])
    W.write_es_imagenet_npz(tmp_path / "ES-imagenet-0.18/val/v1.npz", [[1, 2, 3]], [[4, 5, 6]])
    W.write_es_imagenet_npz(tmp_path / "ES-imagenet-0.18/val/v2.npz", [[1, 2, 3]], [[4, 5, 6]])
    (tmp_path / "ES-imagenet-0.18/vallabel.txt").write_text("v1.npz 10\nv2.npz 1\n")
    test = D.ESImageNet(tmp_path, train=False, data_type="frame", frames_number=1, split_by="number")
    # SpikingJelly's labels: places among the sorted class folders class0, class1, class10; order by class
    assert test.classes == ("class0", "class1", "class10") and test.targets == [1, 2]
    frames, _ = test[0]
    assert frames[0, 1, 1, 2] == 1 and frames[0, 0, 4, 5] == 1
    assert len(list(test.cache.directory.rglob("*.sjf"))) == 1


def test_sj_loaders_refuse_truncated_files(tmp_path: Path):
    (tmp_path / "a.bin").write_bytes(b"\0" * 7)
    with pytest.raises(DatasetFormatError, match="multiple of 5"):
        D.load_ATIS_bin(tmp_path / "a.bin")
    (tmp_path / "a.aedat").write_bytes(b"#!AER-DAT3.1\r\n#!END-HEADER\r\n" + b"\1" * 20)
    with pytest.raises(DatasetFormatError, match=r"truncated AEDAT 3\.1 packet header"):
        D.load_aedat_v3(tmp_path / "a.aedat")
    W.write_nav_dat(tmp_path / "u/u_le_0.dat", [1, 2], [3, 4], [10, 20], [0, 1], header=False)
    t, x, y, p = D.io.atis_td.read_atis_td(tmp_path / "u/u_le_0.dat")  # without a header: raw events
    assert t.tolist() == [0, 10] and x.tolist() == [1, 2] and y.tolist() == [3, 4] and p.tolist() == [0, 1]
