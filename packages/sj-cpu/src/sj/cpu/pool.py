"""Reusable output buffers: large kernel outputs come from warm memory instead of fresh, page-faulting pages.

The pool keeps blocks as numpy arrays of one shape and dtype. It lends a block as ``torch.from_numpy`` of a fresh
numpy view of it: every tensor and view made from the loan shares one torch storage, which holds that numpy view until
the last of them is freed. A weak reference to the view returns the block to the pool when it dies — so memory
autograd still holds (e.g. the saved H of a graph not yet backpropagated) is never lent again. Lending and freeing
costs about 3× a ``torch.empty_like`` and free (``benchmarks/bench_cpu_kernels.py`` prints it). Idle blocks are
capped at ``SJ_CPU_POOL_IDLE_MB`` (default: 1024 MiB, or an eighth of the memory this process may use where that is
less — small boards, containers with a memory limit; least recently returned dropped first); outputs smaller than
``SJ_CPU_POOL_MIN_KB`` (default 1024 KiB) use ``torch.empty``, whose allocator already reuses warm memory.
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from dataclasses import dataclass

import numpy as np
import torch

_ALIGN = 64
_IDLE_CAP = 1 << 30
CGROUP_MEMORY_MAX = "/sys/fs/cgroup/memory.max"  # cgroup v2: the container's limit, "max" when none
# numpy has no bfloat16: its blocks are int16 arrays, lent viewed as bfloat16 (same size, no copy)
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16, torch.bfloat16: np.int16,
          torch.bool: np.bool_}


@dataclass(frozen=True)
class PoolStats:
    """Counters of a :class:`BufferPool` (bytes)."""

    idle_bytes: int
    idle_blocks: int
    allocated_blocks: int
    reused_blocks: int


def usable_memory_bytes() -> int | None:
    """Physical memory, or the cgroup's (container's) memory limit where that is lower; ``None`` when unknown."""
    try:
        found = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        found = None
    try:
        with open(CGROUP_MEMORY_MAX) as f:
            text = f.read().strip()
    except OSError:
        text = "max"
    if text.isdigit():
        found = int(text) if found is None else min(found, int(text))
    return found if found and found > 0 else None


def default_idle_bytes() -> int:
    """The idle cap without ``SJ_CPU_POOL_IDLE_MB``: 1 GiB, or an eighth of :func:`usable_memory_bytes` if less."""
    usable = usable_memory_bytes()
    return _IDLE_CAP if usable is None else min(_IDLE_CAP, usable // 8)


def _env_size(name: str, unit: str, unit_bytes: int) -> int | None:
    """``$name``, a whole number of ``unit`` (``unit_bytes`` each), in bytes; ``None`` when unset."""
    text = os.environ.get(name)
    if text is None:
        return None
    if not text.strip().isdigit():
        raise ValueError(f"{name}={text!r}: expected a whole number of {unit} (0 or more)")
    return int(text) * unit_bytes


def _aligned(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of ``shape`` whose data starts on a :data:`_ALIGN`-byte boundary."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % _ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


class BufferPool:
    """Pool of aligned host blocks for ``float32``, ``float64``, ``float16``, ``bfloat16`` and ``bool`` outputs,
    keyed by shape and dtype (thread-safe)."""

    def __init__(self, min_bytes: int | None = None, max_idle_bytes: int | None = None) -> None:
        if min_bytes is None:
            min_bytes = _env_size("SJ_CPU_POOL_MIN_KB", "KiB", 1 << 10)
        if max_idle_bytes is None:
            max_idle_bytes = _env_size("SJ_CPU_POOL_IDLE_MB", "MiB", 1 << 20)
        self.min_bytes = min_bytes if min_bytes is not None else 1 << 20
        self.max_idle_bytes = max_idle_bytes if max_idle_bytes is not None else default_idle_bytes()
        # weak references of the loans whose views died; deque.append is atomic, so the callback may run in any
        # thread, and inside the pool's own code (a garbage collection there)
        self._returned: collections.deque = collections.deque()
        self._lent: dict[int, tuple[weakref.ref, tuple, np.ndarray]] = {}  # id(weak ref) -> (it, key, block)
        # idle blocks: per key, least recently returned first; and every idle block's key by return order (serial)
        self._idle: dict[tuple, list[tuple[int, np.ndarray]]] = {}
        self._order: collections.OrderedDict[int, tuple] = collections.OrderedDict()
        self._idle_bytes = 0
        self._serial = 0
        self._allocated = 0
        self._reused = 0
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised contiguous CPU tensor of ``shape`` and ``dtype``."""
        shape = tuple(int(s) for s in shape)
        if dtype not in _NUMPY or int(np.prod(shape, dtype=np.int64)) * dtype.itemsize < self.min_bytes:
            return torch.empty(shape, dtype=dtype)
        return self._lend((shape, dtype))

    def like(self, t: torch.Tensor) -> torch.Tensor:
        """An uninitialised tensor shaped and typed like the contiguous CPU tensor ``t`` (the common case, made
        without :meth:`empty`'s shape arithmetic)."""
        if t.nbytes < self.min_bytes or t.dtype not in _NUMPY:
            return torch.empty_like(t)
        return self._lend((tuple(t.shape), t.dtype))

    def _lend(self, key: tuple) -> torch.Tensor:
        block = self._take(key)
        if block is None:
            shape, dtype = key
            block = _aligned(shape, np.dtype(_NUMPY[dtype]))
            with self._lock:
                self._allocated += 1
        view = block.view()
        loan = weakref.ref(view, self._returned.append)
        self._lent[id(loan)] = (loan, key, block)  # the weak reference must live for its callback to run
        t = torch.from_numpy(view)
        return t.view(torch.bfloat16) if key[1] == torch.bfloat16 else t

    def _drain(self) -> None:
        while self._returned:
            _, key, block = self._lent.pop(id(self._returned.popleft()))
            self._serial += 1
            self._idle.setdefault(key, []).append((self._serial, block))
            self._order[self._serial] = key
            self._idle_bytes += block.nbytes
        while self._idle_bytes > self.max_idle_bytes and self._order:
            _, key = self._order.popitem(last=False)
            blocks = self._idle[key]
            _, block = blocks.pop(0)  # a key's oldest: the oldest overall, which the order just gave
            self._idle_bytes -= block.nbytes
            if not blocks:
                del self._idle[key]

    def _take(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            self._drain()
            blocks = self._idle.get(key)
            if not blocks:
                return None
            serial, block = blocks.pop()  # the most recently returned: warmest
            if not blocks:
                del self._idle[key]
            del self._order[serial]
            self._idle_bytes -= block.nbytes
            self._reused += 1
            return block

    def clear(self) -> None:
        """Drop every idle block (blocks in use return later and are kept, up to the cap)."""
        with self._lock:
            self._drain()
            self._idle.clear()
            self._order.clear()
            self._idle_bytes = 0

    def stats(self) -> PoolStats:
        with self._lock:
            self._drain()
            return PoolStats(self._idle_bytes, len(self._order), self._allocated, self._reused)
