"""Datasets stored as one folder per class: CIFAR10-DVS (AEDAT 2.0), ASL-DVS (``.mat``), DVS-Lip and POKER-DVS
(``.npy``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import class_folder_index
from sj.datasets.errors import DatasetFormatError
from sj.datasets.events import integer_column, make_events, times_to_us
from sj.datasets.io.aedat import decode_dvs128_aedat2, read_aedat2
from sj.datasets.io.containers import read_mat_columns, read_npy
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: CIFAR10-DVS class names in label order (SpikingJelly's name for them).
CIFAR10DVS_CLASS_NAMES = CIFAR10_CLASSES  # SpikingJelly's name
# SpikingJelly's per-class archives of the original release (figshare 4724671).
_CIFAR10_MD5 = {
    "airplane": ("7712788", "0afd5c4bf9ae06af762a77b180354fdd"),
    "automobile": ("7712791", "8438dfeba3bc970c94962d995b1b9bdd"),
    "bird": ("7712794", "a9c207c91c55b9dc2002dc21c684d785"),
    "cat": ("7712812", "52c63c677c2b15fa5146a8daf4d56687"),
    "deer": ("7712815", "b6bf21f6c04d21ba4e23fc3e36c8a4a3"),
    "dog": ("7712818", "f379ebdf6703d16e0a690782e62639c3"),
    "frog": ("7712842", "cad6ed91214b1c7388a5f6ee56d08803"),
    "horse": ("7712851", "e7cbbf77bec584ffbf913f00e682782a"),
    "ship": ("7712836", "41c7bd7d6b251be82557c6cce9a7d5c9"),
    "truck": ("7712839", "89f3922fd147d9aeff89e76a2b0b70a7"),
}
# ASL-DVS has 24 letters (no j, z: they need motion); labels are contiguous like SpikingJelly's (tonic uses 26).
ASL_CLASSES = tuple(c for c in "abcdefghiklmnopqrstuvwxy")
POKER_CLASSES = ("cl", "he", "di", "sp")


def _read_cifar(ref: SampleRef) -> np.ndarray:
    return decode_dvs128_aedat2(*read_aedat2(ref.path))


def _read_asl(ref: SampleRef) -> np.ndarray:
    """SpikingJelly 2.0's conversion: both axes mirrored (``x = 239 - x``, ``y = 179 - y``)."""
    m = read_mat_columns(ref.path, ("ts", "x", "y", "pol"))
    x, y = integer_column(m["x"], "x", 0, 240), integer_column(m["y"], "y", 0, 180)
    return make_events(239 - x, 179 - y, times_to_us(m["ts"], 1, "ts"), m["pol"])


def _read_lip(ref: SampleRef) -> np.ndarray:
    a = read_npy(ref.path, fields=("x", "y", "t", "p"))
    return make_events(a["x"], a["y"], times_to_us(a["t"], 1, "t"), a["p"])


def _read_poker(ref: SampleRef) -> np.ndarray:
    a = read_npy(ref.path, columns=4)  # columns t, x, y, p
    return make_events(a[:, 1], a[:, 2], times_to_us(a[:, 0], 1, "t"), a[:, 3])


def _dvs_lip_classes() -> tuple[str, ...]:
    from tonic.datasets.dvs_lips import DVSLip

    return tuple(DVSLip.classes)


def _index_cifar(root: Path, split: str):
    return class_folder_index(root, root, ".aedat", CIFAR10_CLASSES)


def _index_cifar_tebn(root: Path, split: str):
    """TEBN's split (SpikingJelly's ``CIFAR10DVSTEBNSplit``): per class, recordings 0-99 test, 100-999 train."""
    refs, classes = _index_cifar(root, "all")
    wanted = range(0, 100) if split == "test" else range(100, 1000)
    return [r for r in refs if _recording_number(r) in wanted], classes


def _recording_number(ref: SampleRef) -> int:
    stem = ref.path.stem  # cifar10_<class>_<i>
    tail = stem.rpartition("_")[2]
    if not (stem.startswith("cifar10_") and tail.isdigit()):
        raise DatasetFormatError(ref.path, "not named cifar10_<class>_<number>.aedat (TEBN's split needs the number)")
    return int(tail)


def _index_asl(root: Path, split: str):
    return class_folder_index(root, root, ".mat", ASL_CLASSES)


def _index_lip(root: Path, split: str):
    return class_folder_index(root, root / "DVS-Lip" / split, ".npy", _dvs_lip_classes())


def _index_poker(root: Path, split: str):
    return class_folder_index(root, root / f"pips_{split}", ".npy", POKER_CLASSES, class_of_dir=lambda d: d[-2:])


def _tonic_single(module: str, cls: str):
    def resources(split: str) -> tuple[Resource, ...]:
        import importlib

        T = getattr(importlib.import_module(f"tonic.datasets.{module}"), cls)
        return (Resource(T.filename, T.file_md5, getattr(T, "url", getattr(T, "base_url", "")),
                         nested=("Yin*.zip",) if cls == "ASLDVS" else ()),)
    return resources


def _poker_resources(split: str) -> tuple[Resource, ...]:
    from tonic.datasets.pokerdvs import POKERDVS as T

    name, md5 = (T.train_filename, T.train_md5) if split == "train" else (T.test_filename, T.test_md5)
    return (Resource(name, md5, "shipped inside the tonic package (tonic/datasets/) and on "
                                "http://www2.imse-cnm.csic.es/caviar/POKERDVS.html"),)


CIFAR10_DVS = DatasetSpec(
    name="cifar10_dvs", summary="CIFAR10-DVS, original AEDAT 2.0 recordings, 10 classes, 128x128",
    sensor_size=(128, 128), splits=("all",), marker=lambda split: "*/*.aedat",
    resources=lambda split: tuple(Resource(f"{c}.zip", md5, f"https://ndownloader.figshare.com/files/{fid}")
                                  for c, (fid, md5) in _CIFAR10_MD5.items()),
    index=_index_cifar, read=_read_cifar,
    reader="own AEDAT 2.0 reader with SpikingJelly's DVS128 address decoding (tonic reads only its AEDAT4 re-release, "
           "which needs the 'aedat' package)",
    layout="<class>/cifar10_<class>_<i>.aedat",
)

CIFAR10_DVS_TEBN = DatasetSpec(
    name="cifar10_dvs_tebn", summary="CIFAR10-DVS with TEBN's split (per class 900 train / 100 test), 128x128",
    sensor_size=(128, 128), splits=("train", "test"), marker=CIFAR10_DVS.marker, resources=CIFAR10_DVS.resources,
    index=_index_cifar_tebn, read=_read_cifar, reader=CIFAR10_DVS.reader,
    layout="<class>/cifar10_<class>_<i>.aedat (i < 100: test, 100 <= i < 1000: train)",
)

ASL_DVS = DatasetSpec(
    name="asl_dvs", summary="ASL-DVS, American sign language letters, 24 classes, 180x240",
    sensor_size=(180, 240), splits=("all",), marker=lambda split: "*/*.mat",
    resources=_tonic_single("asl_dvs", "ASLDVS"), index=_index_asl, read=_read_asl,
    reader="scipy.io.loadmat (declared sizes checked) with SpikingJelly 2.0's conversion (x = 239 - x, y = 179 - y)",
    layout="<letter>/*.mat (variables ts, x, y, pol)",
)

DVS_LIP = DatasetSpec(
    name="dvs_lip", summary="DVS-Lip, lip reading of 100 words, 128x128",
    sensor_size=(128, 128), splits=("train", "test"), marker=lambda split: f"DVS-Lip/{split}",
    resources=_tonic_single("dvs_lips", "DVSLip"), index=_index_lip, read=_read_lip,
    reader="numpy .npy structured arrays as in tonic's DVSLip (fields x, y, t, p); class list from tonic",
    layout="DVS-Lip/{train,test}/<word>/*.npy",
)

POKER_DVS = DatasetSpec(
    name="poker_dvs", summary="POKER-DVS, card pips, 4 classes, 35x35",
    sensor_size=(35, 35), splits=("train", "test"), marker=lambda split: f"pips_{split}",
    resources=_poker_resources, index=_index_poker, read=_read_poker,
    reader="numpy .npy [N, 4] arrays in tonic's column order (t, x, y, p)",
    layout="pips_{train,test}/<..cl|he|di|sp>/*.npy",
)
