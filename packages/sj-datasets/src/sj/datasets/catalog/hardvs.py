"""HARDVS (Wang et al. 2022), the MINI release SpikingJelly reads: 300 action classes, DAVIS346 (260 x 346).

Files: ``MINI_HARDVS_files/action_<NNN>/<sample>.npz`` (arrays ``t``, ``x``, ``y``, ``p``) and the split lists
``{train,val,test}_label.txt`` (lines ``action_<NNN>/<sample> <label>``). As in SpikingJelly the class is the
folder: ``action_<NNN>`` → ``NNN - 1`` (its place in the sorted folder names), and samples are ordered by folder
then file name.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import rel_key, require_dir
from sj.datasets.errors import DatasetFormatError, UnsafePathError
from sj.datasets.events import make_events, times_to_us
from sj.datasets.io.containers import read_npz
from sj.datasets.paths import read_index_text
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

N_CLASSES = 300
CLASSES = tuple(f"action_{i:03d}" for i in range(1, N_CLASSES + 1))
_CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}
_URL = "https://github.com/Event-AHU/HARDVS"
_ENTRY = re.compile(r"(action_\d{3})/([^/\\\s]+)")


def _read(ref: SampleRef) -> np.ndarray:
    a = read_npz(ref.path, ("t", "x", "y", "p"))
    return make_events(a["x"], a["y"], times_to_us(a["t"], 1, "t"), a["p"])


def _index(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    base = require_dir(root / "MINI_HARDVS_files", "HARDVS")
    listing = root / f"{split}_label.txt"
    refs = []
    for line in read_index_text(listing).splitlines():
        if len(line) < 2:  # SpikingJelly skips empty lines (len(line) <= 1 with the newline)
            continue
        m = _ENTRY.fullmatch(line.split(" ")[0])
        if m is None or m.group(2) in (".", ".."):
            raise UnsafePathError(listing, f"entry {line.split(' ')[0]!r} is not 'action_<NNN>/<sample name>'")
        if m.group(1) not in _CLASS_INDEX:
            raise DatasetFormatError(listing, f"class {m.group(1)} outside action_001..action_{N_CLASSES:03d}")
        path = base / m.group(1) / f"{m.group(2)}.npz"
        refs.append(SampleRef(rel_key(root, path), path, _CLASS_INDEX[m.group(1)]))
    refs.sort(key=lambda r: r.key)
    return refs, CLASSES


HARDVS = DatasetSpec(
    name="hardvs", summary="HARDVS (MINI), human activities, 300 classes, 260x346",
    sensor_size=(260, 346), splits=("train", "val", "test"), marker=lambda split: "MINI_HARDVS_files/action_*",
    resources=lambda split: (
        Resource("MINI_HARDVS_files.zip", "9c4cc0d9ba043faa17f6f1a9e9aff982", _URL, nested=("action_*.zip",),
                 nested_into_stem=True),
        Resource(f"{split}_label.txt", {"train": "0d642b6e6871034f151b2649a89d8d3c",
                                        "val": "cd2cebcba80e4552102bbacf2b5df812",
                                        "test": "5b664af5843f9b476a9c22626f7f5a59"}[split], _URL, extract=False)),
    index=_index, read=_read,
    reader="own .npz reader (arrays t, x, y, p; sizes checked, never unpickled)",
    layout="MINI_HARDVS_files/action_<NNN>/<sample>.npz, {train,val,test}_label.txt",
)
