"""sj-cupy's on-disk cache of compiled binaries, loaded into the GPU only when :mod:`sj.cache` trusts them.

Files live in ``<sj cache dir>/cupy/`` (``$SJ_CACHE_DIR`` or ``~/.cache/sj``; ``SJ_CUPY_DISK_CACHE=0`` turns the cache
off). A binary's name is a digest of what was compiled (source, options, NVRTC version, target), not of the binary,
so each one is published with a digest record of its content (:func:`sj.cache.publish_bytes`) and read back only when
the record matches (:func:`sj.cache.read_verified`): a file planted or edited there is never returned (the caller
recompiles and publishes a fresh one). The directory must be private: one that another user could write raises
:class:`sj.cache.UntrustedCacheError` naming it and the fix. Writes are atomic, so concurrent processes (DDP ranks)
are safe; a directory that cannot be created or written only costs a recompilation.
"""

from __future__ import annotations

import os
from pathlib import Path

from sj.cache import private_dir, publish_bytes, read_verified

DISK_CACHE_ENV = "SJ_CUPY_DISK_CACHE"
MAX_BINARY_BYTES = 1 << 26  # a compiled kernel is tens of kB; a larger file is not one sj wrote


def enabled() -> bool:
    """Whether compiled binaries are read from and written to the disk cache: ``SJ_CUPY_DISK_CACHE`` is unset (default:
    on) or anything but ``0``/``false``/``no``/``off`` (case-insensitive)."""
    return os.environ.get(DISK_CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _directory() -> Path | None:
    try:
        return private_dir("cupy")
    except OSError:  # a read-only home: no disk cache (UntrustedCacheError is not an OSError: it propagates)
        return None


def load(key: str) -> bytes | None:
    """The cached binary called ``key`` when it is there and its content is what was published, else ``None``."""
    if not enabled():
        return None
    folder = _directory()
    if folder is None:
        return None
    try:
        return read_verified(folder / key, MAX_BINARY_BYTES)
    except ValueError:  # larger than any kernel sj compiles: not one it published
        return None


def store(key: str, binary: bytes) -> None:
    """Publish ``binary`` as ``key`` (atomically, with its digest record); failures to write are ignored."""
    if not enabled():
        return
    folder = _directory()
    if folder is None:
        return
    try:
        publish_bytes(binary, folder / key, mode=0o600)
    except OSError:
        pass  # a full or read-only disk only costs a recompilation next process
