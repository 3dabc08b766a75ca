"""Run sj-cupy's host path without a GPU: kernels really compile (NVRTC, for a chosen architecture), launches do
nothing.

Inside :func:`stubbed_launches` the ``cupy`` backend accepts CPU tensors and runs exactly as on a GPU — validation,
plans, allocation, the parameter block packed with the tensors' addresses — up to the driver: the four functions of
:mod:`sj.cupy.launch` that touch it are replaced (loading compiles the CUBIN for ``sm_<arch>`` and returns no
module; a launch is recorded when asked, with the values packed for it; the device is ``-1``, what
``Tensor.get_device()`` says for CPU tensors; the stream ``0``). Tests use it to check the launch arguments and
allocations, ``benchmarks/bench_gpu_host.py`` to time the host side. Nothing is computed.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sj.cupy import launch

_state = threading.local()
_active: list[int] = []
_BOUNDARY = ("load_function", "launch_kernel", "current_stream", "current_device")
# (kernel name, parameter block layout) of each stub handle (handle - 1): plans made in one stubbed block outlive it
_loaded: list[tuple[str, object]] = []


@dataclass(frozen=True)
class Launch:
    """One recorded launch: the kernel's name, its grid (blocks) and the packed argument values, in order."""

    name: str
    grid: int
    values: tuple


def active() -> bool:
    """Whether :func:`stubbed_launches` is in effect (the ``cupy`` backend then accepts CPU tensors)."""
    return bool(_active)


@contextmanager
def stubbed_launches(arch: int = 90, record: list[Launch] | None = None) -> Iterator[None]:
    """Compile for ``sm_<arch>`` and launch nothing inside the block; launches made in this thread are appended to
    ``record`` when one is given."""
    from sj.cupy.compiler import compile_source

    def load_function(ks, index: int) -> int:
        compile_source(ks.source, ks.name, arch, "cubin", block=launch.BLOCK)
        _loaded.append((ks.name, launch.parameter_block(ks)))
        return len(_loaded)

    def launch_kernel(function: int, grid: int, stream: int, params: int) -> None:
        rec = getattr(_state, "record", None)
        if rec is not None:
            name, layout = _loaded[function - 1]
            values = ctypes.cast(params, ctypes.POINTER(ctypes.c_void_p))[0]  # the block the first slot points into
            rec.append(Launch(name, grid, layout.unpack(ctypes.string_at(values, layout.size))))

    saved = {name: getattr(launch, name) for name in _BOUNDARY}
    replacements = {"load_function": load_function, "launch_kernel": launch_kernel,
                    "current_stream": lambda index: 0, "current_device": lambda: -1}
    for name, fn in replacements.items():
        setattr(launch, name, fn)
    _active.append(arch)
    _state.record = record
    try:
        yield
    finally:
        _state.record = None
        _active.remove(arch)
        for name, fn in saved.items():
            setattr(launch, name, fn)

