"""Where sj-datasets may read and write: samples inside the dataset root, cache entries inside their folder, and
only regular files (a FIFO or device such as ``/dev/zero`` would be read without end).

A dataset index (a trial list, a label file, folder names) is data: its entries are checked here before any file
is opened or written. ``root`` itself may be a symbolic link; links *inside* it must stay inside it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sj.datasets.errors import DatasetFormatError, UnsafePathError

TEXT_LIMIT = 64 << 20  # bytes: index and label files are a few kB; a larger one is not an index


def safe_key(key: str, source: str | Path) -> str:
    """``key`` if it is a relative POSIX path that stays inside any folder it is joined to (no ``..``, ``.``, empty
    part, backslash or NUL); else :class:`UnsafePathError` naming ``source`` (the index or file it came from)."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\x00" in key or any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(source, f"entry {key!r} is not a plain relative path (it would leave its folder)")
    return key


def safe_file_name(name: str, source: str | Path, what: str, folder: Path) -> str:
    """``name`` if it is a plain file name (no ``/`` or backslash, not ``.`` or ``..``); else
    :class:`UnsafePathError` naming ``source``: "<what> <name> is not a file name in <folder>"."""
    if "/" in name or "\\" in name or name in (".", ".."):
        raise UnsafePathError(source, f"{what} {name!r} is not a file name in {folder}")
    return name


def inside(base: Path, path: Path, source: str | Path, what: str) -> Path:
    """``path`` with symbolic links resolved, if it lies inside ``base`` (resolved too); else
    :class:`UnsafePathError` naming ``source``."""
    real = Path(path).resolve()
    real_base = Path(base).resolve()
    if real != real_base and real_base not in real.parents:
        raise UnsafePathError(source, f"{what} {path} resolves to {real}, outside {real_base}")
    return real


def check_samples(root: Path, refs: list, source: Path | None = None) -> None:
    """Every :class:`~sj.datasets.spec.SampleRef` of ``refs`` has a plain relative key and a file inside ``root``
    (links resolved); else :class:`UnsafePathError` naming ``source`` (the list the entries came from) or the
    file."""
    real_root = Path(root).resolve()
    real_parents: dict[Path, Path] = {}  # a split can have 100 000 files in a few folders: resolve each folder once
    for ref in refs:
        where = source or ref.path
        safe_key(ref.key, where)
        path = Path(ref.path)
        parent = real_parents.get(path.parent)
        if parent is None:
            parent = real_parents[path.parent] = inside(real_root, path.parent, where, "folder of sample")
        try:
            plain = not stat.S_ISLNK(os.lstat(path).st_mode)
        except FileNotFoundError:
            plain = True  # reading it will say so
        if not plain or path.name in ("", ".", ".."):  # else parent / name is the real path, inside real_root
            inside(real_root, path, where, "sample file")


def require_regular_file(path: Path) -> os.stat_result:
    """``os.stat(path)`` if ``path`` is a regular file (links followed); else :class:`DatasetFormatError`."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise DatasetFormatError(path, "not a regular file (a FIFO, device or folder is never read)")
    return st


def read_regular_bytes(path: Path, *, follow_links: bool = True, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (``follow_links=False``: a link itself is refused), at most
    ``limit`` bytes (larger: :class:`DatasetFormatError`). Raises ``FileNotFoundError`` when it does not exist."""
    flags = os.O_RDONLY | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow_links and Path(path).is_symlink():
            raise DatasetFormatError(path, "is a symbolic link; never followed here") from exc
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise DatasetFormatError(path, "not a regular file (a FIFO, device or folder is never read)")
        if limit is not None and st.st_size > limit:
            raise DatasetFormatError(path, f"{st.st_size} bytes, more than the {limit} an index file may have")
        return f.read()


def read_index_text(path: Path) -> str:
    """An index or label text file (UTF-8), refused unless a regular file of at most :data:`TEXT_LIMIT` bytes."""
    try:
        data = read_regular_bytes(path, limit=TEXT_LIMIT)
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(path, f"not UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise DatasetFormatError(path, f"cannot read ({exc.strerror or exc})") from exc
