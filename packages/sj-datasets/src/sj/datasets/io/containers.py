"""Readers for the container formats of preprocessed releases: ``.npy`` (tonic's DVS Gesture, POKER-DVS, DVS-Lip),
HDF5 (SHD/SSC) and MATLAB ``.mat`` (ASL-DVS). They return raw columns; the catalog converts them to canonical
events."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.errors import DatasetFormatError
from sj.datasets.io.guard import reading


def read_npy(path: str | Path, *, columns: int | None = None, fields: tuple[str, ...] = ()) -> np.ndarray:
    """Load a ``.npy`` array (no pickles). ``columns``: require a 2-D array with that many columns; ``fields``:
    require a structured array with those fields."""
    path = Path(path)
    with reading(path):
        arr = np.load(path, allow_pickle=False)
        if columns is not None and (arr.ndim != 2 or arr.shape[1] != columns):
            raise DatasetFormatError(path, f"expected an [N, {columns}] array, found shape {arr.shape}")
        missing = [f for f in fields if arr.dtype.names is None or f not in arr.dtype.names]
        if missing:
            raise DatasetFormatError(path, f"structured array lacks fields {missing} (has {arr.dtype.names})")
        return arr


def read_hdf5_row(path: str | Path, row: int) -> tuple[np.ndarray, np.ndarray]:
    """``(times [s], units)`` of sample ``row`` of a Heidelberg spiking data set file (``spikes/times``,
    ``spikes/units``)."""
    path = Path(path)
    with reading(path):
        import h5py

        with h5py.File(path, "r") as f:
            return np.asarray(f["spikes/times"][row]), np.asarray(f["spikes/units"][row])


def read_hdf5_labels(path: str | Path) -> np.ndarray:
    """All labels (``labels``) of a Heidelberg spiking data set file, without reading any spikes."""
    path = Path(path)
    with reading(path):
        import h5py

        with h5py.File(path, "r") as f:
            return np.asarray(f["labels"][()]).astype(np.int64)


def read_mat_columns(path: str | Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named variables of a MATLAB ``.mat`` file, flattened."""
    path = Path(path)
    with reading(path):
        from scipy.io import loadmat

        mat = loadmat(path)
        missing = [k for k in keys if k not in mat]
        if missing:
            raise DatasetFormatError(path, f"missing variables {missing}")
        return {k: np.asarray(mat[k]).reshape(-1) for k in keys}
