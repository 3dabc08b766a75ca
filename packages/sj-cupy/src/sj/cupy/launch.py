"""Launch generated kernels on torch tensors: zero-copy, on torch's current stream, never moving the current device.

Tensors are handed to the kernel as raw device pointers (``Tensor.data_ptr()``, exactly what torch's
``__cuda_array_interface__``/DLPack export carries) instead of being wrapped as ``cupy.ndarray``: CuPy's
``__cuda_array_interface__`` import synchronises the producer stream from the host, and neither CuPy nor DLPack has a
bfloat16 dtype. Nothing is copied either way.

The kernel runs on ``torch.cuda.current_stream(device)`` of the tensors' device. When that device is not the
current one (a tensor on ``cuda:1`` while ``cuda:0`` is current), the current device is switched for the load and
launch only and restored in a ``finally`` — the caller never observes a change (SpikingJelly's DDP bug was a CuPy
device context that leaked).

Loaded modules are cached per (kernel name, device); binaries per (source hash, architecture) in
:mod:`sj.cupy.compiler`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from sj.cupy.compiler import compile_source, target_for
from sj.cupy.kernels import BLOCK, KernelSource

_lock = threading.Lock()
_functions: dict[tuple[str, int], object] = {}
_streams: dict[tuple[int, int], object] = {}


@contextmanager
def on_device(index: int) -> Iterator[None]:
    """Make CUDA device ``index`` current inside the block only (no-op when it already is)."""
    from cupy.cuda import runtime

    current = runtime.getDevice()
    if current == index:
        yield
        return
    runtime.setDevice(index)
    try:
        yield
    finally:
        runtime.setDevice(current)


def _function(ks: KernelSource, index: int):
    key = (ks.name, index)
    fn = _functions.get(key)
    if fn is not None:
        return fn
    from cupy.cuda import function

    arch, kind = target_for(torch.cuda.get_device_capability(index))
    binary = compile_source(ks.source, ks.name, arch, kind)
    module = function.Module()
    module.load(binary)  # in the current context: the caller holds on_device(index)
    fn = module.get_function(ks.name)  # keeps the module alive
    with _lock:
        _functions.setdefault(key, fn)
    return fn


class _StreamRef:
    """A raw ``cudaStream_t`` in the CUDA stream protocol (``__cuda_stream__``), for ``Stream.from_external``."""

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr

    def __cuda_stream__(self) -> tuple[int, int]:
        return (0, self.ptr)


def _stream(device: torch.device, index: int):
    """torch's current stream on ``device`` as a CuPy stream object (cached per stream pointer)."""
    ptr = torch.cuda.current_stream(device).cuda_stream
    key = (ptr, index)
    s = _streams.get(key)
    if s is None:
        import cupy

        if hasattr(cupy.cuda.Stream, "from_external"):  # CuPy >= 14 (ExternalStream is deprecated there)
            s = cupy.cuda.Stream.from_external(_StreamRef(ptr))
        else:
            s = cupy.cuda.ExternalStream(ptr, index)
        with _lock:
            _streams.setdefault(key, s)
    return s


def _scalar_type(ks: KernelSource):
    return np.float64 if ks.ctype.compute == "double" else np.float32


def kernel_args(ks: KernelSource, values: dict[str, object]) -> list:
    """The kernel's arguments in signature order from ``values`` (tensors for ``ptr``, numbers otherwise)."""
    scalar = _scalar_type(ks)
    out: list = []
    for name, kind in ks.args:
        try:
            value = values[name]
        except KeyError:
            raise KeyError(f"kernel {ks.name} needs argument {name!r}; got {sorted(values)}") from None
        if kind == "ptr":
            if not isinstance(value, torch.Tensor) or not value.is_contiguous():
                raise ValueError(f"kernel argument {name!r} must be a contiguous tensor")
            out.append(np.uint64(value.data_ptr()))
        elif kind == "i64":
            out.append(np.int64(value))
        elif kind == "i32":
            out.append(np.int32(value))
        else:
            out.append(scalar(value))
    return out


def aligned_vec(preferred: int, n: int, tensors: list[torch.Tensor]) -> int:
    """``preferred`` when ``n`` is a multiple of it and every tensor's address is ``preferred``-element aligned,
    else 1 (the scalar path: odd sizes and offset views are computed exactly, never padded)."""
    if preferred == 1 or n % preferred:
        return 1
    for t in tensors:
        if t.data_ptr() % (preferred * t.element_size()):
            return 1
    return preferred


def launch(ks: KernelSource, device: torch.device, n: int, values: dict[str, object]) -> None:
    """Run ``ks`` over ``n`` neurons (``ks.vec`` per thread) on ``device``'s current torch stream."""
    if n == 0:
        return
    index = device.index if device.index is not None else torch.cuda.current_device()
    args = kernel_args(ks, values)
    threads = -(-n // ks.vec)
    grid = (-(-threads // BLOCK),)
    with on_device(index):
        fn = _function(ks, index)
        fn(grid, (BLOCK,), args, stream=_stream(device, index))
