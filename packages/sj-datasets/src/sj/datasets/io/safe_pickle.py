"""Object ``.npy`` files (Bullying10k's release pickles arrays of event records) read without running code.

``numpy.load(allow_pickle=True)`` lets a file call any Python function. Here the pickle may only rebuild numpy
arrays and dtypes (plus the containers pickle builds itself: lists, tuples, numbers, strings, bytes); any other
global is refused with :class:`DatasetFormatError`. The pickle is read from the file's bytes in memory, so no
length it declares can make the reader allocate more than the file holds.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from sj.datasets.errors import DatasetFormatError
from sj.datasets.io.containers import read_npy_header, read_npy_stream
from sj.datasets.io.guard import reading

_ALLOWED = {(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")}
_ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} refused (only numpy arrays may be rebuilt)")
        return super().find_class(module, name)


def read_object_npy(path: str | Path) -> np.ndarray:
    """The array of an ``.npy`` file, object arrays included, unpickled with numpy arrays and dtypes only."""
    path = Path(path)
    with reading(path):
        f = io.BytesIO(path.read_bytes())
        shape, _fortran, dtype = read_npy_header(f, path, "array")
        if not dtype.hasobject:
            f.seek(0)
            return read_npy_stream(f, len(f.getbuffer()), path, "array")
        try:
            array = _ArraysOnly(f).load()
        except pickle.UnpicklingError as exc:
            raise DatasetFormatError(path, f"unsafe or corrupt pickle: {exc}") from exc
        if not isinstance(array, np.ndarray) or array.shape != shape:
            raise DatasetFormatError(path, f"pickle holds {type(array).__name__}, not the [{shape}] array announced")
        return array
