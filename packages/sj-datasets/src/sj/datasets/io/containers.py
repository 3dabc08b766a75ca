"""Readers for the container formats of preprocessed releases: ``.npy`` (tonic's DVS Gesture, POKER-DVS, DVS-Lip),
``.npz`` (HARDVS, ES-ImageNet, SpikingJelly's frame files), HDF5 (SHD/SSC) and MATLAB ``.mat`` (ASL-DVS). They
return raw columns; the catalog converts them to canonical events. Every declared size (an ``.npy`` header's shape,
a zip member's size, an HDF5 dataset's shape, a MATLAB variable's dimensions) is checked against the bytes the file
has before anything of that size is allocated; pickles are never loaded."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from sj.datasets.errors import DatasetFormatError
from sj.datasets.io.guard import check_declared_size, reading


def read_npy_header(f: BinaryIO, path: Path, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the ``.npy`` stream ``f`` (format 1.0 or 2.0; 3.0, used only for
    non-Latin-1 field names, is refused)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(f)
    raise DatasetFormatError(path, f"{what}: .npy format {version[0]}.{version[1]} is not read")


def read_npy_stream(f: BinaryIO, stored: int, path: Path, what: str) -> np.ndarray:
    """The array of the ``.npy`` stream ``f`` (``stored`` bytes long): the header (at most numpy's 10 000 bytes,
    parsed without running code) is read first and its declared shape checked against ``stored`` before the data is
    allocated. Object arrays (pickles) are refused."""
    shape, fortran, dtype = read_npy_header(f, path, what)
    if dtype.hasobject:
        raise DatasetFormatError(path, f"{what} holds Python objects (pickles are never loaded)")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    check_declared_size(path, f"{what} (shape {shape}, {dtype})", nbytes, stored)
    buf = bytearray(nbytes)
    if f.readinto(buf) != nbytes:
        raise DatasetFormatError(path, f"{what} is truncated: shape {shape} needs {nbytes} data bytes")
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")


def read_npy(path: str | Path, *, columns: int | None = None, fields: tuple[str, ...] = ()) -> np.ndarray:
    """Load a ``.npy`` array (see :func:`read_npy_stream`). ``columns``: require a 2-D array with that many
    columns; ``fields``: require a structured array with those fields."""
    path = Path(path)
    with reading(path) as st, open(path, "rb") as f:
        arr = read_npy_stream(f, st.st_size, path, "array")
        if columns is not None and (arr.ndim != 2 or arr.shape[1] != columns):
            raise DatasetFormatError(path, f"expected an [N, {columns}] array, found shape {arr.shape}")
        missing = [f for f in fields if arr.dtype.names is None or f not in arr.dtype.names]
        if missing:
            raise DatasetFormatError(path, f"structured array lacks fields {missing} (has {arr.dtype.names})")
        return arr


def read_npz(path: str | Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays ``keys`` (default: all) of an ``.npz`` file. Each member's declared size is checked against its
    compressed size (zip bombs) and its ``.npy`` header against that size (see :func:`read_npy_stream`)."""
    path = Path(path)
    with reading(path), zipfile.ZipFile(path) as z:
        members = {info.filename[:-4]: info for info in z.infolist() if info.filename.endswith(".npy")}
        wanted = tuple(members) if keys is None else keys
        missing = [k for k in wanted if k not in members]
        if missing:
            raise DatasetFormatError(path, f"no arrays {missing} (has {sorted(members)})")
        out = {}
        for key in wanted:
            info = members[key]
            check_declared_size(path, f"member {info.filename}", info.file_size, info.compress_size,
                                compressed=info.compress_type != zipfile.ZIP_STORED)
            with z.open(info) as f:
                out[key] = read_npy_stream(f, info.file_size, path, f"array {key!r}")
        return out


def _hdf5_dataset(path: Path, f, name: str, file_size: int):
    """Dataset ``name`` of the open file ``f``, 1-D, whose declared size fits what the file can hold (compression
    included); else :class:`DatasetFormatError` naming the file and the dataset."""
    import h5py

    ds = f.get(name)
    if not isinstance(ds, h5py.Dataset):
        raise DatasetFormatError(path, f"no dataset {name!r}")
    if ds.ndim != 1:
        raise DatasetFormatError(path, f"dataset {name!r} has shape {ds.shape}, expected one dimension")
    check_declared_size(path, f"dataset {name!r}", ds.size * ds.dtype.itemsize, file_size, compressed=True)
    return ds


def read_hdf5_row(path: str | Path, row: int) -> tuple[np.ndarray, np.ndarray]:
    """``(times [s], units)`` of sample ``row`` of a Heidelberg spiking data set file (``spikes/times``,
    ``spikes/units``), as stored (checked by the caller). Both datasets must have one entry per sample."""
    path = Path(path)
    with reading(path) as st:
        import h5py

        with h5py.File(path, "r") as f:
            times = _hdf5_dataset(path, f, "spikes/times", st.st_size)
            units = _hdf5_dataset(path, f, "spikes/units", st.st_size)
            if times.shape != units.shape or not 0 <= row < times.shape[0]:
                raise DatasetFormatError(path, f"row {row} not in spikes/times {times.shape} / spikes/units "
                                               f"{units.shape}")
            return np.asarray(times[row]), np.asarray(units[row])


def read_hdf5_labels(path: str | Path) -> np.ndarray:
    """All labels (``labels``, as stored: the caller checks them) of a Heidelberg spiking data set file, without
    reading any spikes; their number must equal the number of ``spikes/times`` rows."""
    path = Path(path)
    with reading(path) as st:
        import h5py

        with h5py.File(path, "r") as f:
            labels = _hdf5_dataset(path, f, "labels", st.st_size)
            rows = _hdf5_dataset(path, f, "spikes/times", st.st_size).shape[0]
            if labels.shape[0] != rows:
                raise DatasetFormatError(path, f"{labels.shape[0]} labels for {rows} spikes/times rows")
            return np.asarray(labels[()])


def read_mat_columns(path: str | Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named variables of a MATLAB ``.mat`` file, flattened. Their declared shapes (read from the variable
    headers) are checked against the file size before only those variables are loaded."""
    path = Path(path)
    with reading(path) as st:
        from scipy.io import loadmat, whosmat

        declared = {name: shape for name, shape, _cls in whosmat(path)}
        missing = [k for k in keys if k not in declared]
        if missing:
            raise DatasetFormatError(path, f"missing variables {missing}")
        for k in keys:  # 8 bytes: the widest numeric MATLAB element
            check_declared_size(path, f"variable {k!r} {declared[k]}", math.prod(declared[k]) * 8, st.st_size,
                                compressed=True)
        mat = loadmat(path, variable_names=list(keys))
        return {k: np.asarray(mat[k]).reshape(-1) for k in keys}
