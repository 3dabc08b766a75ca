"""Exceptions of sj-datasets. Each names the file it is about."""

from __future__ import annotations

from pathlib import Path


class DatasetFormatError(ValueError):
    """A raw file is truncated, corrupt or not in the expected format. ``path`` names the file."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ChecksumError(ValueError):
    """An archive's MD5 differs from the published one."""

    def __init__(self, path: str | Path, expected: str, actual: str, url: str) -> None:
        self.path = Path(path)
        self.expected = expected
        self.actual = actual
        self.url = url
        super().__init__(
            f"{self.path}: MD5 checksum mismatch (expected {expected}, actual {actual}); the file is incomplete or not "
            f"the published archive. Get it again from {url} (or pass download=True to fetch it)."
        )


class DatasetNotFoundError(FileNotFoundError):
    """Neither the extracted files nor the archives of a dataset are under ``root``."""


class CacheWriteError(OSError):
    """The frame cache cannot be written (read-only, full, no permission). ``path`` names the entry or folder;
    nothing already in the cache was changed."""

    def __init__(self, path: str | Path, cause: OSError) -> None:
        self.path = Path(path)
        self.cause = cause
        reason = cause.strerror or str(cause)
        super().__init__(cause.errno, f"cannot write the frame cache at {self.path}: {reason}; entries already there "
                                      "are unchanged")

    def __reduce__(self):  # rebuilt from (path, cause) when raised in a worker process
        return type(self), (self.path, self.cause)


class UnsafePathError(DatasetFormatError):
    """A dataset index names a file outside the dataset root, or a cache key that would leave the cache folder
    (``..``, an absolute path, a symbolic link pointing out). ``path`` names the index or the offending file."""
