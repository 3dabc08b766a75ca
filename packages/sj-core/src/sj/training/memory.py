"""Measure the peak tensor memory of a piece of code, on any device (CPU included, where torch keeps no statistics).

:class:`PeakMemory` is a ``TorchDispatchMode``: every tensor produced by an operator inside the ``with`` block (forward,
autograd backward and checkpoint recomputation alike) is tracked by its storage until the storage is freed. Storages
that existed before the block (parameters, inputs) are not counted, so the figure is the memory the block added:
activations saved for backward, gradients, temporaries visible at operator boundaries. Scratch memory allocated and
freed inside one operator's kernel is not seen.
"""

from __future__ import annotations

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class PeakMemory(TorchDispatchMode):
    """Context manager recording the live and peak bytes of the tensor storages created inside it.

    Attributes (after or during the block): ``current`` (bytes still alive), ``peak`` (the maximum of ``current`` at
    any operator boundary). Use it on one thread; it slows every operator down by a bookkeeping step.

    Example::

        with PeakMemory() as mem:
            loss = net(x).sum()
            loss.backward()
        print(mem.peak / 2**20, "MiB")
    """

    def __init__(self) -> None:
        super().__init__()
        self._live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.current = 0
        self.peak = 0

    def _sweep(self) -> None:
        dead = [key for key, (ref, _) in self._live.items() if ref.expired()]
        for key in dead:
            self.current -= self._live.pop(key)[1]

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        ref = StorageWeakRef(storage)
        if ref.cdata not in self._live:
            nbytes = storage.nbytes()
            self._live[ref.cdata] = (ref, nbytes)
            self.current += nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self._sweep()
        # outputs aliasing an input (views, in-place results) are not new memory, whether or not the input is tracked
        inputs = {StorageWeakRef(t.untyped_storage()).cdata for t in tree_leaves((args, kwargs))
                  if isinstance(t, torch.Tensor) and t.device.type != "meta"}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta" and \
                    StorageWeakRef(t.untyped_storage()).cdata not in inputs:
                self._track(t)
        self.peak = max(self.peak, self.current)
        return out
