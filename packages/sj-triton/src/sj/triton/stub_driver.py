"""A Triton driver for machines without a GPU: kernels really compile (for a chosen architecture), launches do nothing.

sj-triton's host side — validation, the launch plans, allocation, argument tuples, Triton's launcher entry — then runs
on CPU tensors exactly as it would on a GPU, up to the driver call. Tests use it to check that host path (launch
arguments, allocations, no host synchronisation) and ``benchmarks/bench_gpu_host.py`` to time it. Inside
:func:`stubbed_launches` the ``triton`` backend accepts CPU tensors; every launch is checked against the compiled
kernel's signature (argument count, pointer dtypes, integer ranges) as the real launcher would — every launch while
launches are recorded, the first of each kernel otherwise (timings) — and recorded when asked. Nothing is
computed: outputs keep whatever ``torch.empty`` left in them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

import triton
from triton.backends.compiler import GPUTarget
from triton.backends.driver import DriverBase

_TYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32, "fp64": torch.float64}
_INT_RANGE = {"i32": (-2**31, 2**31), "i64": (-2**63, 2**63)}
_state = threading.local()
_active: list[StubDriver] = []


@dataclass(frozen=True)
class Launch:
    """One recorded launch: the kernel's name, its grid and its arguments (constexpr positions included)."""

    name: str
    grid: tuple[int, int, int]
    args: tuple


class _Utils:
    """The driver utilities Triton's compiled-kernel object asks for when it loads a binary."""

    def get_device_properties(self, device) -> dict:
        return {"max_shared_mem": 227 * 1024, "multiprocessor_count": 132, "max_num_regs": 65536, "warpSize": 32}

    def load_binary(self, name, kernel, shared, device):
        return 0, 0, 0, 0, 1024  # module, function, registers, spills, max threads per block

    def unload_module(self, module) -> None:
        pass


class _Launcher:
    """Stands for Triton's CUDA launcher: checks the arguments against the signature, records, launches nothing."""

    def __init__(self, src, metadata) -> None:
        self.name = metadata.name
        self.signature = list(src.signature.values())
        self.checked = False

    def __call__(self, gx, gy, gz, stream, function, packed_metadata, launch_metadata, enter_hook, exit_hook, *args):
        record = getattr(_state, "record", None)
        if record is None and self.checked:  # timing: the first launch is checked, the rest cost what a driver call
            return None                      # stub costs
        self.check(args)
        self.checked = True
        if record is not None:
            record.append(Launch(self.name, (gx, gy, gz), args))

    def check(self, args: tuple) -> None:
        if len(args) != len(self.signature):
            raise TypeError(f"stub launcher: {self.name} takes {len(self.signature)} arguments (constexpr positions "
                            f"included), got {len(args)}")
        for i, (ty, a) in enumerate(zip(self.signature, args)):
            if ty.startswith("*"):
                if not isinstance(a, torch.Tensor) or a.dtype != _TYPES[ty[1:]]:
                    raise TypeError(f"stub launcher: {self.name} argument {i} must be a {ty[1:]} tensor, got "
                                    f"{getattr(a, 'dtype', type(a).__name__)}")
            elif ty in _INT_RANGE:
                lo, hi = _INT_RANGE[ty]
                if not isinstance(a, int) or not lo <= a < hi:
                    raise TypeError(f"stub launcher: {self.name} argument {i} must be an {ty}, got {a!r}")
            elif ty in ("fp32", "fp64") and not isinstance(a, float):
                raise TypeError(f"stub launcher: {self.name} argument {i} must be a float, got {a!r}")


def _bench(fn, quantiles=None, **kwargs):
    """Triton's benchmarker interface; nothing can be timed here, so every configuration ties."""
    fn()
    return [1.0, 1.0, 1.0] if quantiles else 1.0


class StubDriver(DriverBase):
    """Compiles for ``GPUTarget("cuda", arch, 32)``; the current device is ``-1`` (what ``Tensor.get_device()`` says
    for CPU tensors) and the stream ``0``."""

    def __init__(self, arch: int = 90) -> None:
        self.arch = arch
        self.utils = _Utils()
        self.launcher_cls = _Launcher

    @staticmethod
    def is_active() -> bool:
        return True

    def get_current_target(self) -> GPUTarget:
        return GPUTarget("cuda", self.arch, 32)

    def get_current_device(self) -> int:
        return -1

    def set_current_device(self, device) -> None:
        pass

    def get_current_stream(self, device=None) -> int:
        return 0

    def get_device_capability(self, device=None) -> tuple[int, int]:
        return divmod(self.arch, 10)

    def get_active_torch_device(self) -> torch.device:
        return torch.device("cpu")

    def get_device_interface(self):
        return torch.cuda

    def get_benchmarker(self):
        return _bench

    def map_python_to_cpp_type(self, ty: str) -> str:
        raise NotImplementedError("the stub driver builds no launcher")

    def get_empty_cache_for_benchmark(self):
        return torch.empty(0)

    def clear_cache(self, cache) -> None:
        pass


def active() -> bool:
    """Whether :func:`stubbed_launches` is in effect (the ``triton`` backend then accepts CPU tensors)."""
    return bool(_active)


@contextmanager
def stubbed_launches(arch: int = 90, record: list[Launch] | None = None) -> Iterator[StubDriver]:
    """Make Triton compile for ``sm_<arch>`` and launch nothing inside the block; launches made in this thread are
    appended to ``record`` when one is given. Not for use with ``TRITON_INTERPRET=1`` (the interpreter needs no
    driver)."""
    from sj.triton.loader import interpreting

    if interpreting():
        raise RuntimeError("stubbed_launches needs compiled kernels: unset TRITON_INTERPRET")
    config = triton.runtime.driver
    previous = getattr(config, "_active", None)
    stub = StubDriver(arch)
    config.set_active(stub)
    _active.append(stub)
    _state.record = record
    try:
        yield stub
    finally:
        _state.record = None
        _active.remove(stub)
        # Kernels loaded through the stub unload through the active driver when they are collected. Without a GPU
        # there is no other driver to hand them to, so the stub stays installed (launching nothing, accepting no
        # CPU tensor: active() is False); with one, the real driver comes back.
        if previous is not None or torch.cuda.is_available():
            config.set_active(previous)
