"""Bullying10K (Dong et al. 2023), the classification task SpikingJelly reads: 10 actions, DAVIS346 (260 x 346).

Files: ``<action>/**/*.npy`` (the extracted per-action archives), each an object array of event-record arrays
``(t, x, y, p)`` — read by :func:`sj.datasets.io.safe_pickle.read_object_npy`, never by unrestricted unpickling.
Split as SpikingJelly: of all files, every fifth (the 1st, 6th, …) is a test sample. SpikingJelly lists them in
``os.listdir``/``os.walk`` order, which depends on the file system; sj sorts (actions, folders and files), so the
split is the same everywhere (and SpikingJelly's wherever its listing is sorted).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import rel_key
from sj.datasets.errors import DatasetFormatError, DatasetNotFoundError
from sj.datasets.events import make_events, times_to_us
from sj.datasets.io.safe_pickle import read_object_npy
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

#: Bullying10K category folder name → label (SpikingJelly's numbering).
BULLYING10K_CATEGORY_LABEL = {"handshake": 0, "slapping": 1, "punching": 2, "walking": 3, "fingerguess": 4,
                              "strangling": 5, "greeting": 6, "pushing": 7, "hairgrabs": 8, "kicking": 9}
CLASSES = tuple(sorted(BULLYING10K_CATEGORY_LABEL, key=BULLYING10K_CATEGORY_LABEL.__getitem__))
_FILES = {"handshake": ("41268834", "681d70f499e736a1e805305284ddc425"),
          "slapping": ("41247021", "84b41d6805958f9f62f425223916ffc2"),
          "punching": ("41263314", "40954f480ab210099d448b7b88fc4719"),
          "walking": ("41247024", "56e4cac9c0814ce701c3b2292c15b6a9"),
          "fingerguess": ("41253057", "f83114e5b4f0ea57cac86fb080c7e4d7"),
          "strangling": ("41261904", "8185ecd6f3147e9b609d22f06270aa86"),
          "greeting": ("41268792", "4a763fad728b04c8356db8544f1121fe"),
          "pushing": ("41268951", "7986c74ade7149a98672120a89b13ba8"),
          "hairgrabs": ("41277855", "a9cf690ed0a3305da4a4b8e110f64db1"),
          "kicking": ("41278008", "6c3218f977de4ac29c84a10b17779c33")}


def _read(ref: SampleRef) -> np.ndarray:
    data = read_object_npy(ref.path)
    try:
        records = [record for chunk in data for record in chunk]  # SpikingJelly's flattening
        t, x, y, p = (np.array([r[k] for r in records]) for k in range(4))
    except (TypeError, IndexError) as exc:
        raise DatasetFormatError(ref.path, f"not arrays of (t, x, y, p) records ({exc})") from exc
    return make_events(x, y, times_to_us(t, 1, "t"), p)


def _index(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    files = []
    for category in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if category.name not in BULLYING10K_CATEGORY_LABEL:
            raise DatasetFormatError(category, f"not a Bullying10K action (one of {sorted(CLASSES)})")
        files += [(f, BULLYING10K_CATEGORY_LABEL[category.name]) for f in sorted(category.rglob("*.npy"))]
    if not files:
        raise DatasetNotFoundError(f"Bullying10K: no <action>/**/*.npy under {root}")
    chosen = files[0::5] if split == "test" else [fl for i, fl in enumerate(files) if i % 5]
    refs = [SampleRef(rel_key(root, f), f, label) for f, label in chosen]
    refs.sort(key=lambda r: (r.label, r.path.stem))  # SpikingJelly's <label>/<stem>.npz folders
    return refs, CLASSES


BULLYING10K = DatasetSpec(
    name="bullying10k", summary="Bullying10K classification, 10 actions, 260x346",
    sensor_size=(260, 346), splits=("train", "test"), marker=lambda split: "*/**/*.npy",
    resources=lambda split: tuple(Resource(f"{c}.zip", md5, f"https://figshare.com/ndownloader/files/{fid}")
                                  for c, (fid, md5) in _FILES.items()),
    index=_index, read=_read,
    reader="own .npy reader unpickling numpy arrays only; SpikingJelly's split (every fifth file is a test sample)",
    layout="<action>/**/*.npy",
)
