"""The crash-safe frame cache.

One file per sample, ``<cache dir>/<key>.sjf``: the magic line ``SJFRAMES1``, an 8-byte little-endian header length,
a JSON header (sample key and label, source file identity — path relative to ``root``, size, mtime in ns, time cut
or HDF5 row —, the integration parameters, the sj-datasets version, the payload's SHA-256), then the frames as
``.npy`` bytes. Every file is written to a temporary name in the same folder, flushed, fsynced and atomically renamed,
so a reader sees either nothing or a complete entry. An entry whose header, checksum, source identity, parameters or
version do not match is *corrupt* or *stale*: it is rebuilt, never served. The bytes depend only on the inputs, so
a resumed run ends with exactly the files of an uninterrupted one. ``manifest.json`` (written the same way at the end
of :func:`sj.datasets.prepare.prepare`) lists every entry's checksum and every failed sample.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import struct
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from sj.datasets.errors import CacheWriteError, DatasetFormatError
from sj.datasets.paths import inside, read_regular_bytes, safe_key
from sj.datasets.spec import SampleRef

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so temporaries are never taken for orphans
    fcntl = None  # type: ignore[assignment]

MAGIC = b"SJFRAMES1\n"
SUFFIX = ".sjf"
MANIFEST = "manifest.json"
TMP_SUFFIX = ".tmp"
_LEN = struct.Struct("<Q")


def library_version() -> str:
    """The installed sj-datasets version (recorded in every entry and manifest)."""
    try:
        return version("sj-datasets")
    except PackageNotFoundError:
        return "0+unknown"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a uniquely named temporary file in the same folder + fsync + ``os.replace``.

    The temporary (``.<name>.<random>.tmp``) is locked (``flock``) from creation to rename, so a cleaner can tell a
    live writer from a dead one without process ids, which collide across containers sharing a cache. Raises
    :class:`CacheWriteError` (naming ``path``) when the folder is read-only, full or otherwise unwritable; an entry
    already at ``path`` is then left as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_locked_temporary(path)
    except OSError as exc:
        raise CacheWriteError(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as f:  # closing releases the lock, after the rename
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)
    except OSError as exc:
        raise CacheWriteError(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):  # gone after the rename; on a file system gone read-only, a cleaner's job
            tmp.unlink(missing_ok=True)


def _create_locked_temporary(path: Path) -> tuple[int, Path]:
    """Create and lock a new temporary beside ``path``. A cleaner only deletes temporaries whose lock it holds, so
    one it deleted between our create and our lock is detected (the name no longer is our file) and replaced."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}{TMP_SUFFIX}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        if _is_same_file(fd, tmp):
            return fd, tmp
        os.close(fd)


def _is_same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
    except FileNotFoundError:
        return False


def remove_if_orphan(tmp: Path) -> bool:
    """Delete the temporary ``tmp`` if no live writer holds its lock; True when deleted. A killed writer's lock is
    released by the kernel (also for a zombie, and across PID namespaces). Without ``fcntl`` (Windows) nothing is
    deleted."""
    if fcntl is None:
        return False
    try:
        fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except (FileNotFoundError, IsADirectoryError):
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer
        if not _is_same_file(fd, tmp):
            return False  # renamed into place meanwhile
        tmp.unlink()
        return True
    finally:
        os.close(fd)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def encode_entry(header: dict[str, Any], frames: np.ndarray) -> bytes:
    """The bytes of one cache entry (``header`` gains ``sha256``, ``shape`` and ``dtype`` of the payload)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(frames), allow_pickle=False)
    payload = buf.getvalue()
    head = _dumps({**header, "sha256": hashlib.sha256(payload).hexdigest(), "shape": list(frames.shape),
                   "dtype": frames.dtype.str})
    return MAGIC + _LEN.pack(len(head)) + head + payload


class CorruptEntry(ValueError):
    """A cache entry that cannot be decoded or whose checksum does not match."""


def decode_entry(data: bytes) -> tuple[dict[str, Any], np.ndarray]:
    """Header and frames of an entry; raises :class:`CorruptEntry` on any inconsistency."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _LEN.size:
        raise CorruptEntry("bad magic or truncated")
    (n,) = _LEN.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    try:
        header = json.loads(data[start:start + n])
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise CorruptEntry(f"unreadable header ({type(exc).__name__})") from exc
    payload = data[start + n:]
    if not isinstance(header, dict) or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise CorruptEntry("payload checksum mismatch")
    try:
        frames = np.load(io.BytesIO(payload), allow_pickle=False)
    except ValueError as exc:
        raise CorruptEntry(f"unreadable payload ({exc})") from exc
    if list(frames.shape) != header.get("shape") or frames.dtype.str != header.get("dtype"):
        raise CorruptEntry(f"payload {frames.dtype.str} {list(frames.shape)} differs from its header")
    return header, frames


@dataclass(frozen=True)
class FrameCache:
    """The cache folder of one dataset split and one set of integration parameters."""

    directory: Path
    root: Path
    params: dict[str, Any]

    def path_of(self, ref: SampleRef) -> Path:
        """The entry file of ``ref``; :class:`UnsafePathError` if its key or a linked sub-folder leads outside
        :attr:`directory`."""
        path = self.directory / (safe_key(ref.key, ref.path) + SUFFIX)
        inside(self.directory, path.parent, ref.path, "cache folder of the entry")
        return path

    def source_identity(self, ref: SampleRef) -> dict[str, Any]:
        st = ref.path.stat()
        ident: dict[str, Any] = {"path": ref.path.relative_to(self.root).as_posix(), "size": st.st_size,
                                 "mtime_ns": st.st_mtime_ns}
        for name in ("start", "stop", "row"):
            if getattr(ref, name) is not None:
                ident[name] = getattr(ref, name)
        return ident

    def expected_header(self, ref: SampleRef) -> dict[str, Any]:
        return {"key": ref.key, "label": ref.label, "source": self.source_identity(ref), "params": self.params,
                "library_version": library_version()}

    def check(self, ref: SampleRef) -> tuple[str, np.ndarray | None, dict[str, Any] | None]:
        """``(state, frames, header)`` with state ``'ok'``, ``'missing'``, ``'corrupt: …'`` or ``'stale: …'``."""
        path = self.path_of(ref)
        try:
            data = read_regular_bytes(path, follow_links=False)
        except FileNotFoundError:
            return "missing", None, None
        except DatasetFormatError as exc:
            return f"corrupt: {exc.problem}", None, None
        try:
            header, frames = decode_entry(data)
        except CorruptEntry as exc:
            return f"corrupt: {exc}", None, None
        expected = self.expected_header(ref)
        changed = [k for k, v in expected.items() if header.get(k) != v]
        if changed:
            return f"stale: {', '.join(changed)} changed", None, None
        return "ok", frames, header

    def load(self, ref: SampleRef) -> np.ndarray | None:
        """The cached frames of ``ref`` when its entry is valid and current, else None."""
        state, frames, _ = self.check(ref)
        return frames if state == "ok" else None

    def store(self, ref: SampleRef, frames: np.ndarray) -> dict[str, Any]:
        """Atomically write the entry of ``ref``; returns its header."""
        data = encode_entry(self.expected_header(ref), frames)
        atomic_write(self.path_of(ref), data)
        return decode_entry(data)[0]

    def remove_orphan_temporaries(self) -> list[Path]:
        """Delete temporary files left by killed writers (see :func:`remove_if_orphan`); returns them."""
        if not self.directory.is_dir():
            return []
        try:
            return [tmp for tmp in sorted(self.directory.rglob(f".*{TMP_SUFFIX}")) if remove_if_orphan(tmp)]
        except OSError as exc:
            raise CacheWriteError(self.directory, exc) from exc

    def write_manifest(self, dataset: str, split: str, entries: dict[str, dict[str, Any]],
                       failed: dict[str, str]) -> None:
        """Atomically write ``manifest.json`` (sorted keys; deterministic)."""
        manifest = {"format": 1, "dataset": dataset, "split": split, "params": self.params,
                    "library_version": library_version(), "complete": not failed,
                    "entries": dict(sorted(entries.items())), "failed": dict(sorted(failed.items()))}
        atomic_write(self.directory / MANIFEST, json.dumps(manifest, sort_keys=True, indent=1).encode() + b"\n")

    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest if it is readable and well formed (``params``, ``entries`` and ``failed`` objects), else
        None."""
        try:
            manifest = json.loads(read_regular_bytes(self.directory / MANIFEST, follow_links=False))
        except (OSError, ValueError, RecursionError, DatasetFormatError):
            return None
        if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), dict)
                                                      for k in ("params", "entries", "failed")):
            return None
        return manifest
