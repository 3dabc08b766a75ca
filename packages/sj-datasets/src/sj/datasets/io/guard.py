"""Guards every reader shares: only regular files are read, declared sizes are checked before allocating, and any
failure of a third-party reader becomes a :class:`DatasetFormatError` that names the file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sj.datasets.errors import DatasetFormatError
from sj.datasets.paths import require_regular_file

# The most deflate (zlib, gzip, zip, HDF5's gzip filter) expands data: 1032:1. A compressed container declaring more
# than this times its stored bytes is corrupt or hostile.
DEFLATE_MAX_RATIO = 1032


def check_declared_size(path: str | Path, what: str, declared: int, stored: int, *, compressed: bool = False) -> None:
    """Refuse (:class:`DatasetFormatError`) a ``declared`` byte count larger than ``stored`` bytes can hold
    (times :data:`DEFLATE_MAX_RATIO` when ``compressed``), before anything of that size is allocated."""
    limit = stored * (DEFLATE_MAX_RATIO if compressed else 1)
    if declared > limit:
        how = f"{stored} compressed bytes can expand to at most {limit}" if compressed else f"{stored} bytes are there"
        raise DatasetFormatError(path, f"{what} declares {declared} bytes but {how}")


@contextmanager
def reading(path: str | Path) -> Iterator[os.stat_result]:
    """Yield the ``stat`` of ``path`` once it is known to be a regular file; re-raise errors met while reading it as
    :class:`DatasetFormatError` (an existing one passes through)."""
    try:
        yield require_regular_file(Path(path))
    except DatasetFormatError:
        raise
    except FileNotFoundError as exc:
        raise DatasetFormatError(path, "file not found") from exc
    except Exception as exc:
        raise DatasetFormatError(path, f"cannot read ({type(exc).__name__}: {exc})") from exc
