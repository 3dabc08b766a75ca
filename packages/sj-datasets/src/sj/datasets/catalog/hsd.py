"""SHD and SSC (Heidelberg spiking data sets): one HDF5 file per split, 700 cochlea channels.

Events: ``x`` = unit (0..699), ``y = 0``, ``p = 0``, ``t`` = spike time in s × 10^6 rounded to the nearest µs (tonic
truncates instead). Labels come from the ``labels`` dataset without reading spikes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.catalog.common import rel_key
from sj.datasets.errors import DatasetFormatError, DatasetNotFoundError
from sj.datasets.events import integer_column, make_events, times_to_us
from sj.datasets.io.containers import read_hdf5_labels, read_hdf5_row
from sj.datasets.spec import DatasetSpec, Resource, SampleRef

UNITS = 700


#: Classes of the Spiking Heidelberg Digits.
SHD_N_CLASSES = 20
#: Classes of the Spiking Speech Commands.
SSC_N_CLASSES = 35


def _read(ref: SampleRef) -> np.ndarray:
    times, units = read_hdf5_row(ref.path, int(ref.row))
    where = f"row {ref.row}"
    try:
        if times.shape != units.shape:
            raise ValueError(f"spikes/times has {times.size} values, spikes/units {units.size}")
        t = times_to_us(times, 1e6, "spikes/times (s)")
        x = integer_column(units, "spikes/units", 0, UNITS)
    except ValueError as exc:
        raise DatasetFormatError(ref.path, f"{where}: {exc}") from exc
    return make_events(x, 0, t, 0)


def _indexer(prefix: str):
    n_classes = SHD_N_CLASSES if prefix == "shd" else SSC_N_CLASSES

    def index(root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
        path = root / f"{prefix}_{split}.h5"
        if not path.is_file():
            raise DatasetNotFoundError(f"{path} not found")
        try:
            labels = integer_column(read_hdf5_labels(path), "labels", 0, n_classes)
        except ValueError as exc:
            raise DatasetFormatError(path, str(exc)) from exc
        names = tuple(str(i) for i in range(n_classes))
        return [SampleRef(f"{rel_key(root, path)}#{i:06d}", path, int(lab), row=i) for i, lab in enumerate(labels)], \
            names
    return index


def _resources(cls_name: str):
    def resources(split: str) -> tuple[Resource, ...]:
        from tonic.datasets import hsd

        T = getattr(hsd, cls_name)
        zip_name = getattr(T, f"{split}_zip")
        return (Resource(zip_name, getattr(T, f"{split}_md5"), T.base_url + zip_name),)
    return resources


SHD = DatasetSpec(
    name="shd", summary="Spiking Heidelberg Digits, 20 classes, 700 units (1-D frames)",
    sensor_size=(UNITS,), splits=("train", "test"), marker=lambda split: f"shd_{split}.h5",
    resources=_resources("SHD"), index=_indexer("shd"), read=_read,
    reader="own h5py reader (tonic's HSD truncates times to µs and keeps the file open)",
    layout="shd_train.h5, shd_test.h5",
)

SSC = DatasetSpec(
    name="ssc", summary="Spiking Speech Commands, 35 classes, 700 units (1-D frames)",
    sensor_size=(UNITS,), splits=("train", "valid", "test"), marker=lambda split: f"ssc_{split}.h5",
    resources=_resources("SSC"), index=_indexer("ssc"), read=_read,
    reader="own h5py reader (tonic's HSD truncates times to µs and keeps the file open)",
    layout="ssc_train.h5, ssc_valid.h5, ssc_test.h5",
)
