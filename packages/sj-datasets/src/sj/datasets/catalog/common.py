"""Indexing helpers shared by the catalog modules (they read directory listings only, never event data)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sj.datasets.errors import DatasetFormatError, DatasetNotFoundError
from sj.datasets.spec import SampleRef


def rel_key(root: Path, path: Path) -> str:
    """The cache key of a raw file: its path relative to ``root`` in POSIX form."""
    return path.relative_to(root).as_posix()


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a directory, else :class:`DatasetNotFoundError` naming it."""
    if not path.is_dir():
        raise DatasetNotFoundError(f"{what}: directory {path} not found")
    return path


def class_folder_index(root: Path, base: Path, suffix: str, classes: Sequence[str] | None,
                       class_of_dir: Callable[[str], str] = lambda name: name,
                       ) -> tuple[list[SampleRef], tuple[str, ...]]:
    """Samples ``base/<class dir>/**/*<suffix>``, labelled by ``classes.index(class_of_dir(dir name))``.

    With ``classes=None`` the classes are the sorted directory names. An unknown class directory raises
    :class:`DatasetFormatError` naming it. Samples are sorted by key (path)."""
    require_dir(base, "dataset")
    dirs = sorted(d for d in base.iterdir() if d.is_dir())
    names = tuple(classes) if classes is not None else tuple(d.name for d in dirs)
    refs: list[SampleRef] = []
    for d in dirs:
        cls = class_of_dir(d.name)
        if cls not in names:
            raise DatasetFormatError(d, f"directory is not a known class (expected one of {list(names)})")
        label = names.index(cls)
        refs.extend(SampleRef(rel_key(root, f), f, label) for f in sorted(d.rglob(f"*{suffix}")))
    refs.sort(key=lambda r: r.key)
    return refs, names
