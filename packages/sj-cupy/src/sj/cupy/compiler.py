"""Compile generated CUDA C with NVRTC (through ``cupy.cuda.nvrtc``) to PTX or CUBIN, with caches.

Compiling needs no GPU: :func:`compile_source` takes the target architecture as a number (80 for sm_80). At run
time :func:`target_for` picks the binary for a device: a CUBIN for its exact architecture when this NVRTC knows it
(loads without a JIT, so a driver older than NVRTC is fine), else PTX for the newest architecture NVRTC knows below
it (the driver JIT-compiles it).

Binaries are cached per (source hash, options, NVRTC version, architecture, binary kind): in memory, and on disk
under ``<sj cache dir>/cupy/`` (``$SJ_CACHE_DIR`` or ``~/.cache/sj``; ``SJ_CUPY_DISK_CACHE=0`` turns the disk
cache off). Disk writes are atomic (temporary file + rename), so concurrent processes (DDP ranks) are safe.

A compile error raises :class:`KernelCompileError` carrying NVRTC's log and the generated source lines it names.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

from sj.cache import atomic_write, cache_root

DISK_CACHE_ENV = "SJ_CUPY_DISK_CACHE"
OPTIONS = ("-std=c++14",)

_lock = threading.Lock()
_memory: dict[str, bytes] = {}


class KernelCompileError(RuntimeError):
    """NVRTC rejected a generated kernel. ``log`` is NVRTC's log, ``source`` the translation unit."""

    def __init__(self, message: str, log: str, source: str) -> None:
        super().__init__(message)
        self.log = log
        self.source = source


def _nvrtc():
    from cupy.cuda import nvrtc  # deferred: importing sj.cupy must never need CuPy

    return nvrtc


def nvrtc_version() -> tuple[int, int]:
    """``(major, minor)`` of the NVRTC library CuPy loaded."""
    return tuple(_nvrtc().getVersion())


def supported_archs() -> tuple[int, ...]:
    """Architectures this NVRTC can compile for (e.g. ``(50, ..., 90, 100, 120)``)."""
    return tuple(int(a) for a in _nvrtc().getSupportedArchs())


def target_for(capability: tuple[int, int]) -> tuple[int, str]:
    """``(arch, kind)`` to build for a device of compute ``capability``: ``kind`` is ``"cubin"`` or ``"ptx"``."""
    arch = capability[0] * 10 + capability[1]
    known = supported_archs()
    if arch in known:
        return arch, "cubin"
    below = [a for a in known if a <= arch]
    if not below:
        raise RuntimeError(f"NVRTC {nvrtc_version()} cannot target compute capability {capability} (it supports "
                           f"{known}); install an NVRTC that matches the GPU")
    return max(below), "ptx"


def _source_lines(log: str, source: str, filename: str) -> str:
    """The generated source lines the NVRTC log points at (``name.cu(12): error: ...``), numbered."""
    lines = source.splitlines()
    numbers = sorted({int(m) for m in re.findall(re.escape(filename) + r"\((\d+)\)", log)})
    shown = []
    for n in numbers[:8]:
        if 1 <= n <= len(lines):
            shown.append(f"  {filename}:{n}: {lines[n - 1].strip()}")
    return "\n".join(shown)


def _disk_path(key: str) -> Path | None:
    if os.environ.get(DISK_CACHE_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return cache_root() / "cupy" / key


def compile_source(source: str, filename: str, arch: int, kind: str = "ptx", extra_options: tuple[str, ...] = ()
                   ) -> bytes:
    """Compile one translation unit for ``sm_<arch>``: ``kind="ptx"`` (``compute_<arch>``) or ``"cubin"``.

    ``filename`` names the unit in NVRTC's messages and the cache (no extension). ``extra_options`` are appended to
    the NVRTC options (and key the cache). Returns the PTX text (as bytes) or the CUBIN image. Raises
    :class:`KernelCompileError` on a compile error.
    """
    if kind not in ("ptx", "cubin"):
        raise ValueError(f"kind must be 'ptx' or 'cubin', got {kind!r}")
    gpu = f"--gpu-architecture={'compute' if kind == 'ptx' else 'sm'}_{arch}"
    options = (gpu, *OPTIONS, *extra_options)
    version = nvrtc_version()
    digest = hashlib.sha256("\0".join((source, *options, repr(version))).encode()).hexdigest()[:32]
    key = f"{filename}-{digest}-{'sm' if kind == 'cubin' else 'compute'}_{arch}.{kind}"
    with _lock:
        if key in _memory:
            return _memory[key]
    path = _disk_path(key)
    binary = None
    if path is not None:
        try:
            binary = path.read_bytes()
        except OSError:
            binary = None
    if not binary:
        binary = _compile(source, filename, options, kind)
        if path is not None:
            try:
                atomic_write(path, binary)
            except OSError:
                pass  # a read-only cache folder only costs a recompilation next process
    with _lock:
        _memory[key] = binary
    return binary


def _compile(source: str, filename: str, options: tuple[str, ...], kind: str) -> bytes:
    nvrtc = _nvrtc()
    prog = nvrtc.createProgram(source, filename + ".cu", [], [])
    try:
        try:
            nvrtc.compileProgram(prog, list(options))
        except nvrtc.NVRTCError as exc:
            log = nvrtc.getProgramLog(prog)
            where = _source_lines(log, source, filename + ".cu")
            raise KernelCompileError(f"NVRTC could not compile the generated kernel {filename} ({exc}) with "
                                     f"{' '.join(options)}:\n{log.strip()}\n"
                                     + (f"generated source at the reported lines:\n{where}\n" if where else "")
                                     + "this is a bug in sj-cupy or in the neuron declaration; please report it "
                                       "with the lines above", log, source) from None
        if kind == "cubin":
            return bytes(nvrtc.getCUBIN(prog))
        ptx = nvrtc.getPTX(prog)
        return ptx if isinstance(ptx, bytes) else ptx.encode()
    finally:
        nvrtc.destroyProgram(prog)
