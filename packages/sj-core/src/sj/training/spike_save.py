"""Spike-compressing save: binary tensors saved for backward are kept as packed bits (or bools), not floats.

A layer after a spiking neuron (convolution, linear) saves its input — the spikes — to compute its weight gradient.
Spikes are exactly 0 or 1 but are stored as float32 (4 bytes each). Inside :func:`compress_spikes`, every tensor that
autograd saves is checked bit for bit: if each element is +0.0 or 1.0 it is stored as 1 bit (``storage="bits"``, 32×
smaller than float32) or 1 byte (``storage="bool"``), and unpacked to the same dtype, shape and values in backward.
Anything else (membrane potentials, -0.0, NaN, 0.5) is saved unchanged, so the result is exact: gradients are
bit-identical to an uncompressed run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

_BITS = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32,
         torch.float64: torch.int64}
_WEIGHTS: dict[torch.device, torch.Tensor] = {}
STORAGES = ("bits", "bool")


@dataclass(frozen=True)
class PackedSpikes:
    """A binary tensor stored compactly: ``data`` is ``uint8`` bits (8 elements per byte) or ``bool``."""

    data: torch.Tensor
    shape: torch.Size
    dtype: torch.dtype
    storage: str

    def unpack(self) -> torch.Tensor:
        """The original tensor (same dtype, shape and values; contiguous)."""
        if self.storage == "bool":
            return self.data.to(self.dtype).view(self.shape)
        n = self.shape.numel()
        bits = (self.data.unsqueeze(1) & _weights(self.data.device)) != 0
        return bits.view(-1)[:n].to(self.dtype).view(self.shape)


def _weights(device: torch.device) -> torch.Tensor:
    if device not in _WEIGHTS:
        _WEIGHTS[device] = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=device)
    return _WEIGHTS[device]


def is_binary(t: torch.Tensor) -> bool:
    """Whether every element of floating-point ``t`` is exactly +0.0 or 1.0 (bit patterns; -0.0 and NaN are not)."""
    int_dtype = _BITS.get(t.dtype)
    if int_dtype is None or not t.is_contiguous():
        return False
    one = torch.tensor(1.0, dtype=t.dtype).view(int_dtype).item()
    bits = t.detach().view(int_dtype)
    return bool(((bits == 0) | (bits == one)).all())


def pack(t: torch.Tensor, storage: str = "bits") -> PackedSpikes:
    """Pack a binary tensor (see :func:`is_binary`; not checked here) into bits or bools."""
    flat = t.detach().reshape(-1) != 0
    if storage == "bool":
        return PackedSpikes(flat, t.shape, t.dtype, storage)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    data = (flat.view(-1, 8).to(torch.uint8) * _weights(t.device)).sum(1, dtype=torch.uint8)
    return PackedSpikes(data, t.shape, t.dtype, storage)


def spike_hooks(storage: str = "bits", min_numel: int = 1024) -> tuple[Callable, Callable]:
    """The ``(pack_hook, unpack_hook)`` pair :func:`compress_spikes` installs, for use with other saved-tensor hooks
    (e.g. chained with an offloading hook). Arguments as :func:`compress_spikes`."""
    if storage not in STORAGES:
        raise ValueError(f"compress_spikes: storage must be one of {STORAGES}, got {storage!r}")
    if isinstance(min_numel, bool) or not isinstance(min_numel, int) or min_numel < 0:
        raise ValueError(f"compress_spikes: min_numel must be an int >= 0, got {min_numel!r}")

    def pack_hook(t: torch.Tensor):
        if t.numel() >= min_numel and t.dtype in _BITS and is_binary(t):
            return pack(t, storage)
        return t

    def unpack_hook(obj):
        return obj.unpack() if isinstance(obj, PackedSpikes) else obj

    return pack_hook, unpack_hook


@contextmanager
def compress_spikes(storage: str = "bits", min_numel: int = 1024) -> Iterator[None]:
    """Within the block, tensors saved for backward that are binary are stored packed (see the module docstring).

    Args:
        storage: ``"bits"`` (1 bit per element) or ``"bool"`` (1 byte per element, cheaper to pack).
        min_numel: tensors with fewer elements are saved as they are (not worth the check).

    Checking costs one comparison pass per saved floating-point tensor, and packing one more for the binary ones.
    Saved-tensor hooks do not apply inside ``torch.utils.checkpoint`` regions (including
    :class:`~sj.training.TimeCheckpoint` segments), which install their own; nesting the two compresses what is saved
    outside the checkpointed region.
    """
    with torch.autograd.graph.saved_tensors_hooks(*spike_hooks(storage, min_numel)):
        yield
