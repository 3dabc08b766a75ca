"""Write a file so that it is either the old one or the whole new one, even across a crash or a kill.

The data goes to a temporary beside the target, is flushed to the disk (``fsync``), renamed over the target, and the
directory is flushed too (so the rename itself survives a power loss). The temporary's name says who wrote it:
``<name>.sjtmp-<host>-<pid>-<random>``. A writer that is killed cannot delete its temporary; the next write of the same
target on the same host deletes the temporaries whose writer is no longer running — and only those: never another
live writer's, never a file sj did not name, never a temporary from another host (its process cannot be checked).
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMPORARY = ".sjtmp-"


def temporary_for(target: Path) -> Path:
    """A new temporary name for ``target`` (this host, this process, a random part)."""
    return target.with_name(f"{target.name}{TEMPORARY}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}")


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a process of another user counts)."""
    try:
        os.kill(pid, 0)  # signal 0: only the existence check (POSIX)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, someone else's
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete the temporaries of ``target`` that a writer on this host left when it died; return them.

    Skipped on Windows, where there is no harmless way to ask whether a process exists (``os.kill`` terminates it).
    """
    if sys.platform == "win32":
        return []
    host, removed = socket.gethostname(), []
    pattern = re.compile(re.escape(target.name + TEMPORARY + host) + r"-(\d+)-[0-9a-f]{8}")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _running(pid):  # this process may be writing it in another thread
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except FileNotFoundError:  # another process cleaned it meanwhile
            pass
    _warn_about_old_temporaries(target, entries)
    return removed


_LEGACY = re.compile(r"\.tmp\d+")
_warned: set[Path] = set()


def _warn_about_old_temporaries(target: Path, entries: list[os.DirEntry]) -> None:
    """sj before this module named temporaries ``<name>.tmp<pid>`` (no host): they are not deleted, since a writer
    on another host may own one, but they are pointed out, once per target and process."""
    if target in _warned:
        return
    old = [e for e in entries if e.name.startswith(target.name) and _LEGACY.fullmatch(e.name[len(target.name):])]
    if old:
        _warned.add(target)
        size = sum(e.stat(follow_symlinks=False).st_size for e in old)
        warnings.warn(f"{len(old)} temporary file(s) beside {target} ({size / 2**20:.1f} MiB) were left by interrupted "
                      f"saves of an earlier sj: {sorted(e.name for e in old)[:5]}; delete them once no other "
                      "process is writing this file", RuntimeWarning, stacklevel=4)



def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename in it) to the disk; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def write_durably(target: Path, write: Callable[[BinaryIO], None], check: Callable[[Path], None] | None = None
                  ) -> None:
    """Replace ``target`` by what ``write(file)`` writes, as the module docstring says; ``check(temporary)`` may
    inspect the finished temporary and raise to keep ``target`` as it is. On any failure the temporary is removed."""
    target = Path(target)
    remove_stale_temporaries(target)
    tmp = temporary_for(target)
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)
