"""Google Speech Commands as SpikingJelly 2.0's ``SpeechCommands`` (its audio benchmark), without torchaudio.

Waveforms are read with the standard library's ``wave`` module (PCM 8/16/32-bit, what the release holds: 16-bit
mono at 16 kHz) and scaled to [-1, 1) exactly as ``torchaudio.load`` does (16-bit: ``v / 32768``), giving the same
float32 tensors ``[channels, samples]``. Differences: without ``training_list.txt`` the train list is computed on
every construction instead of being written into your dataset folder; list entries are checked to stay inside it;
a WAV header's declared length is checked against the file before reading.
"""

from __future__ import annotations

import os
import random
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sj.datasets.errors import DatasetFormatError
from sj.datasets.io.guard import check_declared_size, reading
from sj.datasets.paths import check_samples, read_index_text
from sj.datasets.spec import SampleRef

FOLDER_IN_ARCHIVE = "SpeechCommands"
URL = "speech_commands_v0.02"
HASH_DIVIDER = "_nohash_"
EXCEPT_FOLDER = "_background_noise_"
_BASE_URL = "https://storage.googleapis.com/download.tensorflow.org/data/"
_CHECKSUMS = {_BASE_URL + "speech_commands_v0.01.tar.gz": "3cd23799cb2bbdec517f1cc028f8d43c",
              _BASE_URL + "speech_commands_v0.02.tar.gz": "6b74f3901214cb2c2934e98196829835"}
VAL_RECORD = "validation_list.txt"
TEST_RECORD = "testing_list.txt"
TRAIN_RECORD = "training_list.txt"
_SCALE = {1: 128.0, 2: 32768.0, 4: 2147483648.0}  # torchaudio's normalisation of PCM integer samples


def load_wav(path: str | Path) -> torch.Tensor:
    """A PCM WAV file as float32 ``[channels, samples]`` in [-1, 1) (``torchaudio.load``'s values)."""
    path = Path(path)
    with reading(path) as st, wave.open(str(path), "rb") as w:
        width, channels, frames = w.getsampwidth(), w.getnchannels(), w.getnframes()
        if width not in _SCALE:
            raise DatasetFormatError(path, f"{8 * width}-bit samples; only 8, 16 and 32-bit PCM are read")
        check_declared_size(path, "WAV data", frames * width * channels, st.st_size)
        raw = w.readframes(frames)
    if len(raw) != frames * width * channels:
        raise DatasetFormatError(path, f"truncated WAV data: {len(raw)} of {frames * width * channels} bytes")
    if width == 1:  # 8-bit PCM is unsigned
        values = np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0
    else:
        values = np.frombuffer(raw, {2: "<i2", 4: "<i4"}[width]).astype(np.float32)
    return torch.from_numpy((values / _SCALE[width]).reshape(frames, channels).T.copy())


class SpeechCommands(Dataset):
    """Speech Commands (SpikingJelly 2.0's class and arguments): ``label_dict`` maps folder names (and
    ``'_silence_'``) to labels; ``split`` is ``'train'``, ``'val'`` or ``'test'``; ``silence_cnt`` extra train
    samples are random ``silence_size``-sample crops of the background noise files (``random.choice`` and
    ``numpy.random.randint``, as SpikingJelly). Samples are ``(waveform [channels, samples] / its max |value|,
    label)``. ``weights`` (train) are SpikingJelly's inverse-class-frequency sampling weights."""

    def __init__(self, label_dict: dict[str, Any], root: str | Path, silence_cnt: int = 0, silence_size: int = 16000,
                 transform: Callable[[torch.Tensor], Any] | None = None, url: str = URL, split: str = "train",
                 folder_in_archive: str = FOLDER_IN_ARCHIVE, download: bool = False) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"Unknown value '{split}' for argument split. Valid values are {{train, val, test}}.")
        if silence_cnt < 0:
            raise ValueError(f"Invalid silence_cnt parameter: {silence_cnt}")
        if silence_size <= 0:
            raise ValueError(f"Invalid silence_size parameter: {silence_size}")
        self.split, self.label_dict, self.transform = split, label_dict, transform
        self.silence_cnt, self.silence_size = silence_cnt, silence_size
        if url in ("speech_commands_v0.01", "speech_commands_v0.02"):
            url = _BASE_URL + url + ".tar.gz"
        archive = Path(root) / os.path.basename(url)
        self._path = Path(root) / folder_in_archive / os.path.basename(url).rsplit(".", 2)[0]
        if not self._path.is_dir():
            if not download:
                raise FileNotFoundError('Audio data not found. Please specify "download=True" and try again.')
            _fetch(url, archive, self._path)
        self.noise_list = sorted(str(p) for p in self._path.glob(f"{EXCEPT_FOLDER}/*.wav"))
        if split == "train":
            self._walker = self._train_walker()
            self.weights = self._weights()
        else:
            self._walker = self._record(VAL_RECORD if split == "val" else TEST_RECORD)

    def _record(self, name: str) -> list[str]:
        """The file list ``name``; every entry a relative path inside the dataset folder."""
        record = self._path / name
        walker = read_index_text(record).split("\n")
        walker = walker[:-1] if walker and walker[-1] == "" else walker  # a final newline ends the last line
        check_samples(self._path, [SampleRef(entry, self._path / entry, 0) for entry in walker], record)
        return walker

    def _train_walker(self) -> list[str]:
        if (self._path / TRAIN_RECORD).exists():
            return self._record(TRAIN_RECORD)
        walker = {os.path.relpath(p, self._path) for p in map(str, self._path.glob("*/*.wav"))
                  if HASH_DIVIDER in p and EXCEPT_FOLDER not in p}
        walker -= set(self._record(VAL_RECORD)) | set(self._record(TEST_RECORD))
        return sorted(walker)

    def _weights(self) -> torch.Tensor:
        labels = [self.label_dict.get(os.path.split(relpath)[0]) for relpath in self._walker]
        label_weights = 1.0 / np.unique(labels, return_counts=True)[1]
        if self.silence_cnt == 0:
            label_weights /= np.sum(label_weights)
            return torch.DoubleTensor([label_weights[label] for label in labels])
        silence_weight = 1.0 / self.silence_cnt
        total = np.sum(label_weights) + silence_weight
        label_weights /= total
        return torch.DoubleTensor([label_weights[label] for label in labels]
                                  + [silence_weight / total] * self.silence_cnt)

    def __getitem__(self, n: int) -> tuple[Any, Any]:
        if n < len(self._walker):
            fileid = self._walker[n]
            waveform = load_wav(self._path / fileid)
            label = os.path.split(fileid)[0]
        else:
            waveform = load_wav(random.choice(self.noise_list))
            offset = np.random.randint(waveform.shape[1] - self.silence_size)
            waveform = waveform[:, offset:offset + self.silence_size]
            label = "_silence_"
        m = waveform.abs().max()
        if m > 0:
            waveform /= m
        if self.transform is not None:
            waveform = self.transform(waveform)
        return waveform, self.label_dict.get(label)

    def __len__(self) -> int:
        return len(self._walker) + self.silence_cnt


SPEECHCOMMANDS = SpeechCommands


def _fetch(url: str, archive: Path, path: Path) -> None:
    """Download (unless present) and checksum the archive, then extract it into ``path``."""
    from sj.datasets.archives import _download, extract, verify_archive
    from sj.datasets.spec import Resource

    resource = Resource(archive.name, _CHECKSUMS.get(url, ""), url)
    if not archive.is_file():
        _download(resource, archive.parent)
    if resource.md5:
        verify_archive(archive, resource)
    path.mkdir(parents=True, exist_ok=True)
    extract(archive, path)
