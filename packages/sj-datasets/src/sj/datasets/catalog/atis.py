"""N-MNIST and N-Caltech101: ATIS ``.bin`` files in one folder per class, read with tonic's reader.

Coordinates are kept as recorded (SpikingJelly's convention; tonic's N-Caltech101 class shifts x and y so that their
minimum is 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import class_folder_index
from sj.datasets.io.atis import read_atis_bin
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

DIGITS = tuple(str(d) for d in range(10))


def _read(ref: SampleRef) -> np.ndarray:
    return read_atis_bin(ref.path)


def _index_nmnist(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    return class_folder_index(root, root / ("Train" if split == "train" else "Test"), ".bin", DIGITS)


def _index_ncaltech(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
    return class_folder_index(root, root / "Caltech101", ".bin", None)


def _nmnist_resources(split: str) -> tuple[Resource, ...]:
    from tonic.datasets.nmnist import NMNIST as T

    if split == "train":
        return (Resource(T.train_filename, T.train_md5, T.train_url),)
    return (Resource(T.test_filename, T.test_md5, T.test_url),)


def _ncaltech_resources(split: str) -> tuple[Resource, ...]:
    from tonic.datasets.ncaltech101 import NCALTECH101 as T

    return (Resource(T.filename, T.file_md5, T.url, nested=(T.data_filename,)),)


NMNIST = DatasetSpec(
    name="nmnist", summary="N-MNIST, ATIS saccades over MNIST digits, 10 classes, 34x34",
    sensor_size=(34, 34), splits=("train", "test"),
    marker=lambda split: "Train" if split == "train" else "Test",
    resources=_nmnist_resources, index=_index_nmnist, read=_read,
    reader="tonic.io.read_mnist_file (after our length check)",
    layout="Train/<digit>/*.bin, Test/<digit>/*.bin",
)

NCALTECH101 = DatasetSpec(
    name="ncaltech101", summary="N-Caltech101, ATIS saccades over Caltech101 images, 101 classes, 180x240",
    sensor_size=(180, 240), splits=("all",),
    marker=lambda split: "Caltech101",
    resources=_ncaltech_resources, index=_index_ncaltech, read=_read,
    reader="tonic.io.read_mnist_file (after our length check); classes = sorted folder names",
    layout="Caltech101/<class>/*.bin",
)
