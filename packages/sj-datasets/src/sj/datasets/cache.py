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

import hashlib
import io
import json
import os
import struct
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from sj.datasets.spec import SampleRef

MAGIC = b"SJFRAMES1\n"
SUFFIX = ".sjf"
MANIFEST = "manifest.json"
_LEN = struct.Struct("<Q")


def library_version() -> str:
    """The installed sj-datasets version (recorded in every entry and manifest)."""
    try:
        return version("sj-datasets")
    except PackageNotFoundError:
        return "0+unknown"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder + fsync + ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
    except ValueError as exc:
        raise CorruptEntry(f"unreadable header ({exc})") from exc
    payload = data[start + n:]
    if not isinstance(header, dict) or hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise CorruptEntry("payload checksum mismatch")
    try:
        frames = np.load(io.BytesIO(payload), allow_pickle=False)
    except ValueError as exc:
        raise CorruptEntry(f"unreadable payload ({exc})") from exc
    return header, frames


@dataclass(frozen=True)
class FrameCache:
    """The cache folder of one dataset split and one set of integration parameters."""

    directory: Path
    root: Path
    params: dict[str, Any]

    def path_of(self, ref: SampleRef) -> Path:
        return self.directory / (ref.key + SUFFIX)

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
            data = path.read_bytes()
        except FileNotFoundError:
            return "missing", None, None
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
        """Delete temporary files left by killed writers (their process no longer exists)."""
        removed = []
        if not self.directory.is_dir():
            return removed
        for tmp in self.directory.rglob(".*.tmp"):
            try:
                pid = int(tmp.name.rsplit(".", 2)[-2])
            except ValueError:
                continue
            if not _alive(pid):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
        return removed

    def write_manifest(self, dataset: str, split: str, entries: dict[str, dict[str, Any]],
                       failed: dict[str, str]) -> None:
        """Atomically write ``manifest.json`` (sorted keys; deterministic)."""
        manifest = {"format": 1, "dataset": dataset, "split": split, "params": self.params,
                    "library_version": library_version(), "complete": not failed,
                    "entries": dict(sorted(entries.items())), "failed": dict(sorted(failed.items()))}
        atomic_write(self.directory / MANIFEST, json.dumps(manifest, sort_keys=True, indent=1).encode() + b"\n")

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and can still write (a zombie — killed, not yet reaped — cannot)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed worker stays a zombie until reaped, which a container's init may never do
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
