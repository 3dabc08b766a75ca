"""Turn any failure of a third-party reader into a :class:`DatasetFormatError` that names the file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sj.datasets.errors import DatasetFormatError


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Re-raise errors met while reading ``path`` as :class:`DatasetFormatError` (an existing one passes through)."""
    try:
        yield
    except DatasetFormatError:
        raise
    except FileNotFoundError as exc:
        raise DatasetFormatError(path, "file not found") from exc
    except Exception as exc:
        raise DatasetFormatError(path, f"cannot read ({type(exc).__name__}: {exc})") from exc
