"""Launch generated kernels on torch tensors: zero-copy, on torch's current stream, never moving the current device.

Tensors are handed to the kernel as raw device pointers (``Tensor.data_ptr()``, exactly what torch's
``__cuda_array_interface__``/DLPack export carries) instead of being wrapped as ``cupy.ndarray``: CuPy's
``__cuda_array_interface__`` import synchronises the producer stream from the host, and neither CuPy nor DLPack has a
bfloat16 dtype. Nothing is copied either way.

A :class:`Plan` is one kernel loaded on one device with a prebuilt parameter block: a call packs its values (the
tensors' addresses, ``N``, ``T``, then the plan's constants) into the block with one ``struct.pack_into`` and calls
the driver's ``cuLaunchKernel`` directly (through ``cupy_backends``' binding), on the current torch stream of the
tensors' device — a CUDA graph being captured on that stream records the launch. When that device is not the current
one (a tensor on ``cuda:1`` while ``cuda:0`` is current), the current device is switched for the launch only and
restored in a ``finally``; the caller never observes a change (SpikingJelly's DDP bug was a CuPy device context that
leaked).

The four functions that touch the driver — :func:`load_function`, :func:`launch_kernel`, :func:`current_stream`,
:func:`current_device` — are the only ones :mod:`sj.cupy.stub_launch` replaces to run this host path without a GPU.
Binaries are cached per (source hash, architecture) in :mod:`sj.cupy.compiler`.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from sj.cupy.compiler import compile_source, target_for
from sj.cupy.kernels import BLOCK, KernelSource

_lock = threading.Lock()
_modules: dict[tuple[str, int], object] = {}  # keeps every loaded module (and so its functions) alive
_FORMATS = {"ptr": "Q", "i64": "q", "i32": "i4x"}  # every argument takes an 8-byte slot of the parameter block

try:
    from torch._C import _cuda_getCurrentRawStream as _raw_stream  # what Triton's launcher uses too
except ImportError:  # a torch without it: the public (slower) way
    def _raw_stream(index: int) -> int:
        return torch.cuda.current_stream(index).cuda_stream


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


def load_function(ks: KernelSource, index: int) -> int:
    """Compile (or fetch from the caches) and load ``ks`` on device ``index``; its ``CUfunction`` handle."""
    from cupy.cuda import function

    key = (ks.name, index)
    with _lock:
        module = _modules.get(key)
    if module is None:
        arch, kind = target_for(torch.cuda.get_device_capability(index))
        binary = compile_source(ks.source, ks.name, arch, kind, block=BLOCK)
        module = function.Module()
        with on_device(index):
            module.load(binary)
        with _lock:
            module = _modules.setdefault(key, module)
    return module.get_function(ks.name).ptr


def launch_kernel(function: int, grid: int, stream: int, params: int) -> None:
    """``cuLaunchKernel(function, (grid, 1, 1), (BLOCK, 1, 1), 0 bytes shared, stream, params)``."""
    from cupy_backends.cuda.api import driver

    driver.launchKernel(function, grid, 1, 1, BLOCK, 1, 1, 0, stream, params, 0)


def current_stream(index: int) -> int:
    """The ``cudaStream_t`` of torch's current stream on device ``index``."""
    return _raw_stream(index)


def current_device() -> int:
    """The index of torch's current CUDA device (a plan launched for another device switches to it first)."""
    return torch.cuda.current_device()


def parameter_block(ks: KernelSource) -> struct.Struct:
    """The layout of ``ks``'s arguments in a parameter block: one 8-byte slot each, little-endian."""
    scalar = "f4x" if ks.ctype.compute == "float" else "d"
    return struct.Struct("<" + "".join(_FORMATS.get(kind, scalar) for _, kind in ks.args))


class Plan:
    """``ks`` loaded on device ``index``, launched over ``n`` neurons with :meth:`launch`."""

    def __init__(self, ks: KernelSource, index: int) -> None:
        self.name, self.vec, self.index = ks.name, ks.vec, index
        self.block = parameter_block(ks)
        self.buffer = ctypes.create_string_buffer(self.block.size)
        base = ctypes.addressof(self.buffer)
        self.params = (ctypes.c_void_p * len(ks.args))(*(base + 8 * i for i in range(len(ks.args))))
        self.params_address = ctypes.addressof(self.params)
        self.function = load_function(ks, index)
        self.lock = threading.Lock()  # one parameter block per plan: packed and launched by one thread at a time

    def launch(self, n: int, values: tuple) -> None:
        """Launch over ``n`` neurons; ``values``: every kernel argument in order (addresses as integers)."""
        grid = -(-n // (self.vec * BLOCK))
        if current_device() != self.index:
            with on_device(self.index):
                return self._launch(grid, values)
        return self._launch(grid, values)

    def _launch(self, grid: int, values: tuple) -> None:
        stream = current_stream(self.index)
        with self.lock:
            self.block.pack_into(self.buffer, 0, *values)
            launch_kernel(self.function, grid, stream, self.params_address)


def aligned_vec(preferred: int, n: int, tensors) -> int:
    """``preferred`` when ``n`` is a multiple of it and every tensor's address is 16-byte aligned, else 1 (the
    scalar path: odd sizes and offset views are computed exactly, never padded)."""
    if preferred == 1 or n % preferred:
        return 1
    return preferred if all(t.data_ptr() % 16 == 0 for t in tensors) else 1
