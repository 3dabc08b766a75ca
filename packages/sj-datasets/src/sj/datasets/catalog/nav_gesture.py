"""NAVGesture-walk and NAVGesture-sit (Maro et al. 2020): ATIS ``.dat`` recordings, 6 classes, 240 x 304.

Files: ``<user>/<user>_<class>_<…>.dat`` with class ``le ri up do ho se`` (the second ``_`` field of the name).
Decoded as SpikingJelly 2.0 does (:mod:`sj.datasets.io.atis_td`), then ``y = 239 - y``. Labels and order are
SpikingJelly's: classes in sorted order (``do ho le ri se up``), samples by class then file name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import rel_key
from sj.datasets.errors import DatasetFormatError, DatasetNotFoundError
from sj.datasets.events import make_events
from sj.datasets.io.atis_td import read_atis_td
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

CLASSES = tuple(sorted(("le", "ri", "up", "do", "ho", "se")))
_URL = "https://www.neuromorphic-vision.com/public/downloads/navgesture/{}"


def _read(ref: SampleRef) -> np.ndarray:
    t, x, y, p = read_atis_td(ref.path)
    return make_events(x, 239 - y, t, p)


def _index(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    files = sorted(root.glob("*/*.dat"))
    if not files:
        raise DatasetNotFoundError(f"NAVGesture: no <user>/*.dat recordings under {root}")
    refs = []
    for f in files:
        fields = f.stem.split("_")
        if len(fields) < 2 or fields[1] not in CLASSES:
            raise DatasetFormatError(f, f"file name does not name a class (<user>_<{'|'.join(CLASSES)}>_...)")
        refs.append(SampleRef(rel_key(root, f), f, CLASSES.index(fields[1])))
    refs.sort(key=lambda r: (r.label, r.path.stem))
    return refs, CLASSES


def _spec(kind: str, md5: str) -> DatasetSpec:
    archive = f"navgesture-{kind}.zip"
    return DatasetSpec(
        name=f"nav_gesture_{kind}", summary=f"NAVGesture-{kind}, 6 classes, 240x304",
        sensor_size=(240, 304), splits=("all",), marker=lambda split: "*/*.dat",
        resources=lambda split: (Resource(archive, md5, _URL.format(archive), nested=("*.zip",)),),
        index=_index, read=_read,
        reader="own ATIS .dat reader reproducing SpikingJelly 2.0's (dropped events, negative time steps)",
        layout="<user>/<user>_<class>_*.dat",
    )


NAV_GESTURE_WALK = _spec("walk", "5d305266f13005401959e819abe206f0")
NAV_GESTURE_SIT = _spec("sit", "1571753ace4d9e0946e6503313712c22")
