"""sj's on-disk caches: where they live and when sj trusts what it finds there.

Plug-ins keep compiled artefacts here (sj-cpu's run-time libraries, sj-cupy's CUDA binaries, sj-triton's generated
modules) and load them into the process, so a file in the cache can run code. sj therefore only loads from a
directory that no other user can write (:func:`private_dir`) and only an artefact whose content still matches the
digest recorded by the process that produced it (:func:`publish`, :func:`verified`).

The root is ``$SJ_CACHE_DIR`` or ``~/.cache/sj``. On POSIX systems :func:`private_dir` (and :func:`secure_dir`)
creates each directory it makes with mode ``0700`` and refuses (:class:`UntrustedCacheError`, naming the path and
the fix) a directory owned by another user or writable by group or others, or one inside a directory that another
user could rename it out of. On Windows, where these permission bits do not exist, the checks are skipped.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
from pathlib import Path

CACHE_ENV = "SJ_CACHE_DIR"
_RECORD_SUFFIX = ".sha256"


class UntrustedCacheError(RuntimeError):
    """A cache directory another user could write into (sj will not load code from it)."""


def cache_root() -> Path:
    """Root of sj's on-disk caches: ``$SJ_CACHE_DIR``, else ``~/.cache/sj``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sj"


def _check_owned(path: Path, st: os.stat_result) -> None:
    uid = os.getuid()
    if st.st_uid != uid:
        raise UntrustedCacheError(f"sj cache directory {path} is owned by uid {st.st_uid}, not by this user (uid "
                                  f"{uid}); sj loads compiled code from it only when it is yours. Set {CACHE_ENV} to a "
                                  f"directory of your own.")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UntrustedCacheError(f"sj cache directory {path} is writable by group or others (mode "
                                  f"{stat.S_IMODE(st.st_mode):04o}); sj loads compiled code from it only when no "
                                  f"other user can write it: chmod 700 {path}, or set {CACHE_ENV} to another "
                                  "directory.")


def _check_ancestor(path: Path) -> None:
    """An ancestor must not let another user replace what lies below it: owned by this user or root, and not writable
    by group or others unless sticky (as ``/tmp``: others cannot rename entries they do not own)."""
    st = path.stat()
    if st.st_uid not in (0, os.getuid()):
        raise UntrustedCacheError(f"sj cache directory lies inside {path}, owned by uid {st.st_uid}: that user could "
                                  f"replace the cache. Set {CACHE_ENV} to a directory of your own.")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise UntrustedCacheError(f"sj cache directory lies inside {path}, which is writable by group or others "
                                  f"(mode {stat.S_IMODE(st.st_mode):04o}) without the sticky bit: another user could "
                                  f"replace the cache. Set {CACHE_ENV} to a directory of your own.")


def secure_dir(path: Path, root: Path | None = None) -> Path:
    """``path`` (resolved), created with mode ``0700`` where absent, checked as the module docstring says: ``path`` and
    every directory between it and ``root`` (default: ``path`` itself) must be this user's and not writable by group
    or others; the directories above ``root`` must not let another user replace it.

    Raises :class:`UntrustedCacheError` for a directory another user could write; ``OSError`` where it cannot be
    created (read-only home, ...).
    """
    if sys.platform == "win32":
        path.mkdir(parents=True, exist_ok=True)
        return path
    path = Path(os.path.abspath(path))
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:  # another process made it meanwhile: checked below like any existing directory
            pass
    # judged where it really is: a link in the path is followed, and the directories it leads through are checked
    path = path.resolve()
    root = Path(os.path.abspath(root)).resolve() if root is not None else path
    for d in (path, *path.parents):
        if d == root or root in d.parents:
            _check_owned(d, d.stat())
        else:
            _check_ancestor(d)
    return path


def private_dir(*parts: str) -> Path:
    """``cache_root() / parts`` made and checked by :func:`secure_dir` (the root and everything below it must be this
    user's)."""
    return secure_dir(cache_root().joinpath(*parts), cache_root())


def atomic_write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename, so concurrent
    readers see either the old file or the whole new one. ``mode``: the file's permission bits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_digest(path: Path) -> str:
    """SHA-256 of the file's content (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record_path(artifact: Path) -> Path:
    """Where :func:`publish` records the digest of ``artifact``."""
    return artifact.with_name(artifact.name + _RECORD_SUFFIX)


def publish(built: Path, artifact: Path) -> Path:
    """Move the finished file ``built`` (in the same directory) to ``artifact`` and record its digest beside it
    (atomically, after the move): from then on :func:`verified` accepts ``artifact`` while its content is unchanged."""
    digest = file_digest(built)
    os.replace(built, artifact)
    atomic_write(record_path(artifact), digest + "\n", mode=0o600)
    return artifact


def publish_bytes(data: bytes, artifact: Path, mode: int = 0o644) -> Path:
    """Write ``data`` to ``artifact`` atomically (permission bits ``mode``) and record its digest, as :func:`publish`
    does for a file already built, without reading it back."""
    atomic_write(artifact, data, mode)
    atomic_write(record_path(artifact), hashlib.sha256(data).hexdigest() + "\n", mode=0o600)
    return artifact


def read_verified(artifact: Path, limit: int) -> bytes | None:
    """The content of ``artifact`` when it matches the digest :func:`publish` recorded, read once (the bytes returned
    are the bytes checked); ``None`` when it is absent, unrecorded, changed or unreadable. A file of more than
    ``limit`` bytes raises ``ValueError`` before anything is hashed (no file makes sj read without bound)."""
    try:
        recorded = record_path(artifact).read_text().strip()
        with open(artifact, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data if recorded and hashlib.sha256(data).hexdigest() == recorded else None


def verified(artifact: Path) -> bool:
    """Whether ``artifact`` exists and its content matches the digest :func:`publish` recorded (a file planted without
    a record, or changed after publishing, is not)."""
    try:
        recorded = record_path(artifact).read_text().strip()
        return bool(recorded) and file_digest(artifact) == recorded
    except OSError:
        return False
