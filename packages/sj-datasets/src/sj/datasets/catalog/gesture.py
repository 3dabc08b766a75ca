"""DVS128 Gesture, in two selectable sources.

``dvs128_gesture``: IBM's original AEDAT 3.1 recordings with per-trial ``*_labels.csv`` (class, startTime_usec,
endTime_usec), cut exactly as SpikingJelly does (events with ``start <= t < end``, label = class - 1, trials listed in
``trials_to_train.txt`` / ``trials_to_test.txt``): 1176 train / 288 test samples on the full release. Read with our
AEDAT 3.1 reader (tonic's is broken, tonic#302).

``dvs128_gesture_tonic``: tonic's preprocessed ``.npy`` release (``[N, 4]`` columns x, y, p, t in ms), which was
cut differently and has other sample counts.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import rel_key, require_dir
from sj.datasets.errors import DatasetFormatError
from sj.datasets.events import make_events, times_to_us
from sj.datasets.io.aedat import read_aedat31_polarity
from sj.datasets.io.containers import read_npy
from sj.datasets.paths import inside, read_index_text, safe_file_name
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

CLASSES = ("hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
           "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise", "arm_roll", "air_drums",
           "air_guitar", "other_gestures")
_IBM_URL = "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794"


def _read_labels_csv(path: Path) -> np.ndarray:
    text = read_index_text(path)
    try:
        rows = np.loadtxt(io.StringIO(text), dtype=np.int64, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as exc:
        raise DatasetFormatError(path, f"cannot read labels CSV ({exc})") from exc
    if rows.shape[1] != 3:
        raise DatasetFormatError(
            path, f"expected 3 columns (class, startTime_usec, endTime_usec), found {rows.shape[1]}")
    bad = (rows[:, 0] < 1) | (rows[:, 0] > len(CLASSES))
    if bad.any():
        raise DatasetFormatError(path, f"class {int(rows[bad][0, 0])} outside 1..{len(CLASSES)}")
    return rows


def _index_aedat(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    base = require_dir(root / "DvsGesture", "DVS128 Gesture (AEDAT)")
    trials_file = base / f"trials_to_{split}.txt"
    trials = [line.strip() for line in read_index_text(trials_file).splitlines() if line.strip()]
    refs: list[SampleRef] = []
    for trial in trials:
        aedat = base / safe_file_name(trial, trials_file, "trial", base)
        inside(base, aedat, trials_file, f"trial {trial!r}")
        rows = _read_labels_csv(aedat.with_name(aedat.stem + "_labels.csv"))
        for k, (cls, start, stop) in enumerate(rows):
            refs.append(SampleRef(f"{rel_key(root, aedat)}#{k:02d}", aedat, int(cls) - 1, int(start), int(stop)))
    return refs, CLASSES


@lru_cache(maxsize=1)
def _trial_events(path: Path, size: int, mtime_ns: int) -> np.ndarray:
    """One trial's events; cached per process (the samples of a trial are cut from the same file)."""
    return read_aedat31_polarity(path)


def _read_aedat(ref: SampleRef) -> np.ndarray:
    st = ref.path.stat()
    events = _trial_events(ref.path, st.st_size, st.st_mtime_ns)
    t = events["t"]
    return events[(t >= ref.start) & (t < ref.stop)]


def _read_tonic_npy(ref: SampleRef) -> np.ndarray:
    raw = read_npy(ref.path, columns=4)
    return make_events(raw[:, 0], raw[:, 1], times_to_us(raw[:, 3], 1000, "t (ms)"), raw[:, 2])


def _index_tonic(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    folder = "ibmGestureTrain" if split == "train" else "ibmGestureTest"
    base = require_dir(root / folder, "DVS128 Gesture (tonic release)")
    refs = []
    for f in sorted(base.glob("*/*.npy")):
        try:
            label = int(f.stem)
        except ValueError as exc:
            raise DatasetFormatError(f, "file name is not '<label>.npy'") from exc
        if not 0 <= label < len(CLASSES):
            raise DatasetFormatError(f, f"label {label} outside 0..{len(CLASSES) - 1}")
        refs.append(SampleRef(rel_key(root, f), f, label))
    return refs, CLASSES


def _tonic_resources(split: str) -> tuple[Resource, ...]:
    from tonic.datasets.dvsgesture import DVSGesture as T

    if split == "train":
        return (Resource(T.train_filename, T.train_md5, T.train_url),)
    return (Resource(T.test_filename, T.test_md5, T.test_url),)


#: DVS128 Gesture read from IBM's AEDAT files, with SpikingJelly's labels and sample order.
DVS128_GESTURE = DatasetSpec(
    name="dvs128_gesture",
    summary="DVS128 Gesture, IBM's AEDAT 3.1 files cut like SpikingJelly (1176/288), 11 classes, 128x128",
    sensor_size=(128, 128),
    splits=("train", "test"),
    marker=lambda split: "DvsGesture",
    resources=lambda split: (Resource("DvsGesture.tar.gz", "8a5c71fb11e24e5ca5b11866ca6c00a1", _IBM_URL),),
    index=_index_aedat,
    read=_read_aedat,
    reader="own AEDAT 3.1 reader (tonic's read_dvs_ibm is broken, tonic#302)",
    layout="DvsGesture/{trials_to_train.txt, trials_to_test.txt, userNN_<lighting>.aedat, *_labels.csv}",
)

#: DVS128 Gesture from tonic's preprocessed archive (the dataset's own labels).
DVS128_GESTURE_TONIC = DatasetSpec(
    name="dvs128_gesture_tonic",
    summary="DVS128 Gesture, tonic's preprocessed .npy release (ms timestamps), 11 classes, 128x128",
    sensor_size=(128, 128),
    splits=("train", "test"),
    marker=lambda split: "ibmGestureTrain" if split == "train" else "ibmGestureTest",
    resources=_tonic_resources,
    index=_index_tonic,
    read=_read_tonic_npy,
    reader="own .npy loader with tonic's column order (x, y, p, t[ms]); tonic's DVSGesture class downloads "
           "implicitly, so it is not used",
    layout="ibmGestureTrain/userNN_<lighting>/<label>.npy, ibmGestureTest/...",
)

__all__ = ["DVS128_GESTURE", "DVS128_GESTURE_TONIC"]
