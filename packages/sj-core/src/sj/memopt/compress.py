"""Spike compressors: exact compact encodings of a spike tensor kept for recomputation (SpikingJelly 2.0's
``memopt`` compressors; the bit and bool encodings are :mod:`sj.training.spike_save`'s).

``compress(x)`` returns ``(values, dtype, shape)``; ``decompress`` restores a tensor of that dtype and shape, equal to
``x``. A value the encoding cannot hold raises ``ValueError`` (SpikingJelly 2.0 silently corrupts it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from sj.training.spike_save import PackedSpikes, pack

__all__ = ["BitSpikeCompressor", "BooleanSpikeCompressor", "SparseSpikeCompressor", "SpikeCompressor",
           "Uint8SpikeCompressor"]

Packed = tuple[torch.Tensor, torch.dtype, torch.Size]


def _check(x: torch.Tensor, owner: str, uint8: bool = False) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner}.compress: expected a tensor, got {type(x).__name__}")
    if x.dtype == torch.bool or x.numel() == 0:
        return
    ok = ((x >= 0) & (x <= 255) & (x == x.round())) if uint8 else ((x == 0) | (x == 1))
    if not bool(ok.all()):
        what = "integers in [0, 255]" if uint8 else "spikes (every element 0 or 1)"
        raise ValueError(f"{owner}.compress: the tensor must hold {what}; it cannot be restored exactly otherwise")


class SpikeCompressor(ABC):
    """Encodes a tensor compactly (:meth:`compress`) and restores it exactly (:meth:`decompress`)."""

    @abstractmethod
    def compress(self, x: torch.Tensor) -> object:
        """The compact form of ``x``."""

    @abstractmethod
    def decompress(self, packed: object) -> torch.Tensor:
        """The tensor :meth:`compress` was given (same dtype, shape, device and values)."""


class _PackedCompressor(SpikeCompressor):
    """A spike tensor as :func:`sj.training.spike_save.pack` stores it (``storage`` ``"bits"`` or ``"bool"``)."""

    storage = "bits"

    def compress(self, x: torch.Tensor) -> Packed:
        _check(x, type(self).__name__)
        return pack(x, self.storage).data, x.dtype, x.shape

    def decompress(self, packed: Packed) -> torch.Tensor:
        values, dtype, shape = packed
        return PackedSpikes(values.reshape(-1), torch.Size(shape), dtype, self.storage).unpack()


class BooleanSpikeCompressor(_PackedCompressor):
    """One ``bool`` (1 byte) per spike: 4× smaller than float32."""

    storage = "bool"


class BitSpikeCompressor(_PackedCompressor):
    """One bit per spike, 8 per ``uint8`` (element ``i`` in bit ``i % 8``, zero padded): 32× smaller than float32."""

    storage = "bits"


class Uint8SpikeCompressor(SpikeCompressor):
    """One ``uint8`` per element: holds spike counts 0…255 (multi-level spikes) exactly."""

    def compress(self, x: torch.Tensor) -> Packed:
        _check(x, type(self).__name__, uint8=True)
        return x.to(torch.uint8), x.dtype, x.shape

    def decompress(self, packed: Packed) -> torch.Tensor:
        values, dtype, shape = packed
        return values.to(dtype).reshape(shape)


class SparseSpikeCompressor(SpikeCompressor):
    """The flat indices of the ones: smaller than bits when fewer than 1/64 (``int64``) or 1/32 (``int32``) of the
    elements spike.

    Args:
        dtype: integer dtype of the indices (``torch.int64`` default; ``torch.int32`` halves them for tensors of
            fewer than 2³¹ elements).
    """

    def __init__(self, dtype: torch.dtype = torch.int64) -> None:
        if not isinstance(dtype, torch.dtype) or dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
            raise TypeError(f"SparseSpikeCompressor: dtype must be an integer dtype, got {dtype!r}")
        self.dtype = dtype

    def compress(self, x: torch.Tensor) -> Packed:
        _check(x, type(self).__name__)
        if x.numel() - 1 > torch.iinfo(self.dtype).max:
            raise ValueError(f"SparseSpikeCompressor: {x.numel()} elements cannot be indexed with {self.dtype}")
        indices = torch.nonzero(x.reshape(-1)).reshape(-1)
        return indices.to(self.dtype), x.dtype, x.shape

    def decompress(self, packed: Packed) -> torch.Tensor:
        indices, dtype, shape = packed
        flat = torch.zeros(torch.Size(shape).numel(), dtype=dtype, device=indices.device)
        return flat.index_fill_(0, indices.to(torch.int64), 1).reshape(shape)
