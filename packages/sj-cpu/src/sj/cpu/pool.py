"""Reusable output buffers: large kernel outputs come from warm memory instead of fresh, page-faulting pages.

A tensor handed out by :meth:`BufferPool.empty` owns its block through a chain torch keeps alive
(tensor → numpy array → lease → block). The block returns to the pool only when the last tensor or view using it
is freed — so memory autograd still holds (e.g. the saved H of a graph not yet backpropagated) is never handed out
again. Idle blocks are capped at ``SJ_CPU_POOL_IDLE_MB`` (default 1024 MiB, oldest dropped first); outputs smaller
than ``SJ_CPU_POOL_MIN_KB`` (default 1024 KiB) use ``torch.empty``, whose allocator already reuses warm memory.
"""

from __future__ import annotations

import collections
import os
import threading
from dataclasses import dataclass

import numpy as np
import torch

_ALIGN = 64
_GRANULE = 64 * 1024
# numpy has no bfloat16: its blocks are exposed as int16 and viewed as bfloat16 (same size, no copy)
_TYPESTR = {torch.float32: "<f4", torch.float64: "<f8", torch.float16: "<f2", torch.bfloat16: "<i2",
            torch.bool: "|b1"}


@dataclass(frozen=True)
class PoolStats:
    """Counters of a :class:`BufferPool` (bytes)."""

    idle_bytes: int
    idle_blocks: int
    allocated_blocks: int
    reused_blocks: int


class _Lease:
    """Exposes a block as an array (``__array_interface__``) and returns it to the pool when garbage."""

    __slots__ = ("__array_interface__", "_block", "_home", "_size")

    def __init__(self, home: collections.deque, block: np.ndarray, size: int, shape: tuple[int, ...], typestr: str):
        addr = block.ctypes.data
        addr += (-addr) % _ALIGN
        self.__array_interface__ = {"shape": shape, "typestr": typestr, "data": (addr, False), "version": 3}
        self._block, self._home, self._size = block, home, size

    def __del__(self) -> None:
        # deque.append is atomic: safe from any thread and from a garbage collection inside the pool's own code
        self._home.append((self._size, self._block))


class BufferPool:
    """Size-bucketed pool of aligned host blocks for ``float32``, ``float64``, ``float16``, ``bfloat16`` and ``bool``
    outputs (thread-safe)."""

    def __init__(self, min_bytes: int | None = None, max_idle_bytes: int | None = None) -> None:
        self.min_bytes = min_bytes if min_bytes is not None else int(os.environ.get("SJ_CPU_POOL_MIN_KB", 1024)) << 10
        self.max_idle_bytes = (max_idle_bytes if max_idle_bytes is not None
                               else int(os.environ.get("SJ_CPU_POOL_IDLE_MB", 1024)) << 20)
        self._returned: collections.deque = collections.deque()
        self._idle: collections.OrderedDict[int, tuple[int, np.ndarray]] = collections.OrderedDict()
        self._idle_bytes = 0
        self._serial = 0
        self._allocated = 0
        self._reused = 0
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...] | torch.Size, dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised contiguous CPU tensor of ``shape`` and ``dtype``."""
        shape = tuple(int(s) for s in shape)
        numel = 1
        for s in shape:
            numel *= s
        nbytes = numel * dtype.itemsize
        if nbytes < self.min_bytes or dtype not in _TYPESTR:
            return torch.empty(shape, dtype=dtype)
        size = -(-nbytes // _GRANULE) * _GRANULE
        block = self._take(size)
        if block is None:
            block = np.empty(size + _ALIGN, dtype=np.uint8)
            with self._lock:
                self._allocated += 1
        t = torch.from_numpy(np.asarray(_Lease(self._returned, block, size, shape, _TYPESTR[dtype])))
        return t.view(dtype) if t.dtype != dtype else t

    def like(self, t: torch.Tensor) -> torch.Tensor:
        """An uninitialised tensor shaped and typed like the contiguous CPU tensor ``t`` (the common case, made
        without :meth:`empty`'s shape arithmetic when it is small)."""
        if t.nbytes < self.min_bytes:
            return torch.empty_like(t)
        return self.empty(t.shape, t.dtype)

    def _drain(self) -> None:
        while self._returned:
            size, block = self._returned.popleft()
            self._serial += 1
            self._idle[self._serial] = (size, block)
            self._idle_bytes += size
        while self._idle_bytes > self.max_idle_bytes and self._idle:
            _, (size, _) = self._idle.popitem(last=False)
            self._idle_bytes -= size

    def _take(self, size: int) -> np.ndarray | None:
        with self._lock:
            self._drain()
            for key, (bsize, block) in reversed(self._idle.items()):  # most recently returned first: warmest
                if bsize == size:
                    del self._idle[key]
                    self._idle_bytes -= size
                    self._reused += 1
                    return block
        return None

    def clear(self) -> None:
        """Drop every idle block (blocks in use return later and are kept, up to the cap)."""
        with self._lock:
            self._drain()
            self._idle.clear()
            self._idle_bytes = 0

    def stats(self) -> PoolStats:
        with self._lock:
            self._drain()
            return PoolStats(self._idle_bytes, len(self._idle), self._allocated, self._reused)
