"""SpikingJelly 2.0's file loaders and savers (``spikingjelly.datasets.utils``), on sj's guarded readers.

Results equal SpikingJelly's on every well-formed file; a truncated or hostile file raises
:class:`~sj.datasets.errors.DatasetFormatError` naming it instead of a ragged result or a crash, ``.npz``/``.npy``
files are never unpickled, and every write is atomic (a temporary file renamed into place).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from sj.datasets.cache import atomic_write
from sj.datasets.errors import DatasetFormatError
from sj.datasets.io.aedat import read_aedat31_polarity
from sj.datasets.io.containers import read_npy, read_npz
from sj.datasets.io.guard import reading


def load_aedat_v3(file_name: str | Path) -> dict[str, np.ndarray]:
    """Events of the polarity packets of an AEDAT 3.1 file (DVS128 Gesture) as SpikingJelly's dict
    ``{'t', 'x', 'y', 'p'}`` of int64 arrays (``t`` in µs, with the timestamp overflow applied)."""
    ev = read_aedat31_polarity(file_name)
    return {k: ev[k].astype(np.int64) for k in ("t", "x", "y", "p")}


def load_ATIS_bin(file_name: str | Path) -> dict[str, np.ndarray]:
    """Events of an ATIS ``.bin`` file (N-MNIST, N-Caltech101) as SpikingJelly's dict of uint32 arrays: each event
    is 40 bits, x (8), y (8), polarity (1), timestamp µs (23). Like SpikingJelly, no timestamp overflow is applied
    (the datasets use tonic's reader, which applies it); unlike it, a file whose length is not a multiple of 5
    bytes raises :class:`DatasetFormatError` instead of returning arrays of different lengths."""
    path = Path(file_name)
    with reading(path) as st:
        if st.st_size % 5:
            raise DatasetFormatError(path, f"truncated ATIS file: {st.st_size} bytes is not a multiple of 5")
        raw = np.fromfile(path, dtype=np.uint8).astype(np.uint32).reshape(-1, 5)
    return {"t": ((raw[:, 2] & 127) << 16) | (raw[:, 3] << 8) | raw[:, 4], "x": raw[:, 0], "y": raw[:, 1],
            "p": (raw[:, 2] & 128) >> 7}


def load_npz_frames(file_name: str | Path) -> np.ndarray:
    """The ``frames`` array of an ``.npz`` file as float32 (SpikingJelly's frame files)."""
    return read_npz(file_name, ("frames",))["frames"].astype(np.float32)


def load_event_file(file_name: str | Path) -> np.ndarray | dict[str, np.ndarray]:
    """SpikingJelly's event-file loader: an ``.npy`` file gives its array, an ``.npz`` file the dict of its arrays
    (SpikingJelly's raw event files hold ``t``, ``x``, ``y``, ``p``)."""
    path = Path(file_name)
    return read_npy(path) if path.suffix == ".npy" else read_npz(path)


def save_datasets_compressed() -> bool:
    """SpikingJelly's ``configure.save_datasets_compressed``: the environment variable
    ``SJ_SAVE_DATASETS_COMPRESSED`` (``'1'`` default, or ``'0'``)."""
    value = os.environ.get("SJ_SAVE_DATASETS_COMPRESSED", "1")
    if value not in ("0", "1"):
        raise ValueError(f"SJ_SAVE_DATASETS_COMPRESSED must be '0' or '1', got {value!r}")
    return value == "1"


def np_savez(file: str | Path, *args: np.ndarray, **kwds: np.ndarray) -> None:
    """``numpy.savez_compressed`` (``numpy.savez`` when ``SJ_SAVE_DATASETS_COMPRESSED=0``), as SpikingJelly's
    ``np_savez``, written atomically; ``.npz`` is appended to a name without it, as numpy does."""
    path = Path(file)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    buf = io.BytesIO()
    (np.savez_compressed if save_datasets_compressed() else np.savez)(buf, *args, **kwds)
    atomic_write(path, buf.getvalue())
