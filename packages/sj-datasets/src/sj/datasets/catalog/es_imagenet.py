"""ES-ImageNet 0.18 (Lin et al. 2021): ImageNet converted to events, 1000 classes, 256 x 256 as in SpikingJelly.

Files (the extracted RAR release, which sj cannot unpack itself): ``ES-imagenet-0.18/train/<class>/<sample>.npz``,
``ES-imagenet-0.18/val/<sample>.npz`` and ``ES-imagenet-0.18/vallabel.txt`` (lines ``<sample file> <label>``; a
test sample belongs to class folder ``class<label>``). Each file holds ``pos`` and ``neg`` arrays of rows
``(y, x, t)``. As SpikingJelly: events are ON (``pos``) then OFF rows ordered by ``numpy.argsort`` of ``t`` (its
default, unstable sort: equal times keep SpikingJelly's exact order), and the label of a class folder is its place
among the sorted train folder names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import class_folder_index, rel_key, require_dir
from sj.datasets.errors import DatasetFormatError
from sj.datasets.events import make_events, times_to_us
from sj.datasets.io.containers import read_npz
from sj.datasets.paths import read_index_text, safe_file_name
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

_FOLDER = "ES-imagenet-0.18"
_URL = "https://cloud.tsinghua.edu.cn/d/94873ab4ec2a4eb497b3/files/?p=%2FES-imagenet-0.18.part{:02d}.rar&dl=1"
_MD5 = ("900bdd57b5641f7d81cd4620283fef76", "5982532009e863a8f4e18e793314c54b", "8f408c1f5a1d4604e48d0d062a8289a0",
        "5c5b5cf0a55954eb639964e3da510097", "51feb661b4c9fa87860b63e76b914673", "fcd007a2b17b7c13f338734c53f6db31",
        "d3e74b96d9c5df15714bbc3abcd329fc", "65b9cf7fa63e18d2e7d92ff45a42a5e5", "241c9a37a83ff9efd305fe46d012211e",
        "ceee96971008e30d0cdc34086c49fd75", "4fbfefbe6e48758fbb72427c81f119cf", "c8cc163be4e5f6451201dccbded4ec24",
        "08c9dff32f6b42c49ef7cd78e37c728e", "43aa157dc5bd5fcea81315a46e0322cf", "480a69b050f465ef01efcc44ae29f7df",
        "11abd24d92b93e7f85acd63abd4a18ab", "3891486a6862c63a325c5f16cd01fdd1", "cf8bb0525b514f411bca9d7c2d681f7c",
        "3766bc35572ccacc03f0f293c571d0ae", "bf73a5e338644122220e41da7b5630e6", "564de4a2609cbb0bb67ffa1bc51f2487",
        "60a9e52db1acadfccc9a9809073f0b04", "373b5484826d40d7ec35f0e1605cb6ea", "a50612e889b20f99cc7b2725dfd72e9e",
        "0802ccdeb0cff29237faf55164524101")


def events_of_pos_neg(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """SpikingJelly's ES-ImageNet event order from ``pos``/``neg`` rows ``(y, x, t)``, as canonical events."""
    rows = np.vstack((np.hstack((pos, np.ones((pos.shape[0], 1)))), np.hstack((neg, np.zeros((neg.shape[0], 1))))))
    rows = rows[np.argsort(rows[:, 2])]
    return make_events(rows[:, 1], rows[:, 0], times_to_us(rows[:, 2], 1, "t"), rows[:, 3])


def _read(ref: SampleRef) -> np.ndarray:
    a = read_npz(ref.path, ("pos", "neg"))
    for key in ("pos", "neg"):
        if a[key].ndim != 2 or a[key].shape[1] != 3:
            raise DatasetFormatError(ref.path, f"array {key!r} has shape {a[key].shape}, expected [N, 3] (y, x, t)")
    return events_of_pos_neg(a["pos"], a["neg"])


def _index(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    train = require_dir(root / _FOLDER / "train", "ES-ImageNet")
    if split == "train":
        return class_folder_index(root, train, ".npz", None)
    classes = tuple(sorted(d.name for d in train.iterdir() if d.is_dir()))
    class_index = {c: i for i, c in enumerate(classes)}  # folder names are unique
    listing = root / _FOLDER / "vallabel.txt"
    refs = []
    for line in read_index_text(listing).splitlines():
        if not line.strip():
            continue
        fields = line.split(" ")
        name, cls = fields[0], f"class{fields[1].strip() if len(fields) > 1 else ''}"
        path = root / _FOLDER / "val" / safe_file_name(name, listing, "sample", root / _FOLDER / "val")
        if cls not in class_index:
            raise DatasetFormatError(listing, f"line {line!r}: no train class folder {cls!r}")
        refs.append(SampleRef(rel_key(root, path), path, class_index[cls]))
    refs.sort(key=lambda r: (r.label, r.path.name))  # SpikingJelly's test folder: by class, then file name
    return refs, classes


ES_IMAGENET = DatasetSpec(
    name="es_imagenet", summary="ES-ImageNet 0.18, 1000 classes, 256x256 (as SpikingJelly)",
    sensor_size=(256, 256), splits=("train", "test"), marker=lambda split: f"{_FOLDER}/train",
    resources=lambda split: tuple(Resource(f"{_FOLDER}.part{i:02d}.rar", md5, _URL.format(i))
                                  for i, md5 in enumerate(_MD5, start=1)),
    index=_index, read=_read,
    reader="own .npz reader (pos/neg rows y, x, t) with SpikingJelly's event order; RAR parts are extracted by you",
    layout=f"{_FOLDER}/train/<class>/*.npz, {_FOLDER}/val/*.npz, {_FOLDER}/vallabel.txt",
)
