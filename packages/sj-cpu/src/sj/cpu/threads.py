"""How many OpenMP threads a kernel call gets: ``torch.get_num_threads()``, except in a forked child process.

GNU OpenMP (libgomp, which torch ships and the kernels share) keeps its worker threads in a pool that ``fork()`` does
not copy: in a child forked after the parent ran a parallel region, the next region of more than one thread waits
for threads that no longer exist, and the process hangs. torch's own parallel ops hang there too, which is why its
``DataLoader`` sets one thread in each worker. The kernels do not rely on that: in a process made by ``os.fork()``
(``multiprocessing``'s default start method on Linux) they run on one thread, and say so once when torch asks for
more. Processes started with ``spawn`` or ``forkserver`` are not forks of the parent and keep parallel kernels.

A fork is known from an ``os.register_at_fork`` hook when this module was imported before it, and otherwise (the
parent never loaded sj-cpu) from ``multiprocessing``, which records how it started the current process.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings

import torch


def _started_by_fork() -> bool:
    # the Process object multiprocessing made this process from (private attribute: absent, it counts as no fork)
    return getattr(multiprocessing.current_process(), "_start_method", None) == "fork"


_forked = _started_by_fork()
_warned = False


def _after_fork_in_child() -> None:
    global _forked, _warned
    _forked, _warned = True, False


if hasattr(os, "register_at_fork"):  # POSIX only (Windows has no fork)
    os.register_at_fork(after_in_child=_after_fork_in_child)

FORKED_REASON = ("a forked child process: GNU OpenMP's threads do not survive fork(), and a parallel region there "
                 "hangs")


def kernel_threads() -> int:
    """The thread count for the next kernel call (1 in a forked child, with a one-time warning if torch asks for
    more)."""
    n = torch.get_num_threads()
    if _forked and n > 1:
        _warn_once(n)
        return 1
    return n


def describe() -> str:
    """The thread count as ``sj backends`` shows it."""
    n = torch.get_num_threads()
    return f"threads: 1 of torch's {n} ({FORKED_REASON})" if _forked and n > 1 else f"threads: {n}"


def _warn_once(asked: int) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(f"sj cpu backend: running its kernels on 1 thread instead of torch's {asked} in {FORKED_REASON}"
                      "; start child processes with the 'spawn' or 'forkserver' method for parallel kernels "
                      "(torch's own parallel ops hang in this process too: torch.set_num_threads(1) avoids that)",
                      RuntimeWarning, stacklevel=3)
