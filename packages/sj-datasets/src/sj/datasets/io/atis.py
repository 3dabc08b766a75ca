"""ATIS ``.bin`` files of N-MNIST and N-Caltech101 (Orchard et al. 2015), read with tonic's ``read_mnist_file``.

Each event takes 40 bits: x (8), y (8), polarity (1), timestamp µs (23). tonic drops the timestamp-overflow marker
events (``y == 240``) and adds ``2**13`` to later timestamps, as in the authors' reference reader. We check the file
length first because tonic silently misaligns a truncated file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.errors import DatasetFormatError
from sj.datasets.events import make_events
from sj.datasets.io.guard import reading

_TONIC_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])


def read_atis_bin(path: str | Path) -> np.ndarray:
    """Canonical events of one ATIS ``.bin`` file (``t`` in µs, ``p`` 0 = OFF, 1 = ON)."""
    path = Path(path)
    with reading(path):
        size = path.stat().st_size
        if size % 5:
            raise DatasetFormatError(path, f"truncated ATIS file: {size} bytes is not a multiple of 5 (40-bit events)")
        from tonic.io import read_mnist_file  # lazy: tonic's import is slow

        raw = read_mnist_file(str(path), dtype=_TONIC_DTYPE)
        return make_events(raw["x"], raw["y"], raw["t"], raw["p"])
