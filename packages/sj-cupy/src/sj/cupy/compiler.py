"""Compile generated CUDA C with NVRTC (through ``cupy.cuda.nvrtc``) to PTX or CUBIN, with caches.

Compiling needs no GPU: :func:`compile_source` takes the target architecture as a number (80 for sm_80). At run
time :func:`target_for` picks the binary for a device: a CUBIN for its exact architecture when this NVRTC knows it
(loads without a JIT, so a driver older than NVRTC is fine), else PTX for the newest architecture NVRTC knows below
it (the driver JIT-compiles it).

Binaries are cached per (source hash, options, NVRTC version, architecture, binary kind): in memory, and on disk
(:mod:`sj.cupy.disk_cache`: a private directory, each binary checked against the digest recorded when it was
published). CUBINs are cached whole (:mod:`sj.cupy.cubin` restores the byte CuPy's ``getCUBIN`` drops).

Options: ``-std=c++14 -prec-div=false`` (float divisions left in a time loop take the fast path: at most 2 ulp,
far inside the conformance tolerances; double precision is unaffected). Occupancy: the kernels'
``__launch_bounds__`` ask for ``SJ_MIN_BLOCKS`` resident blocks per SM; :func:`compile_source` starts at the
architecture's full occupancy and takes the fullest occupancy at which ptxas reports no register spills (found by
bisection: about three probe compilations, once: the binary is cached, and a CUBIN is the winning probe's image,
not compiled again), so a simple neuron runs at full occupancy and a complex one does not spill.

A compile error raises :class:`KernelCompileError` carrying NVRTC's log and the generated source lines it names.
"""

from __future__ import annotations

import hashlib
import re
import threading

from sj.cupy import cubin, disk_cache

OPTIONS = ("-std=c++14", "-prec-div=false")
THREADS_PER_SM = {75: 1024, 86: 1536, 87: 1536, 89: 1536, 120: 1536}  # every other architecture: 2048
_REGISTERS_PER_SM = 65536

_lock = threading.Lock()
_memory: dict[str, bytes] = {}
_levels: dict[tuple, int] = {}  # occupancy level chosen per (source digest, options, arch, block)


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


def occupancy_levels(arch: int, block: int) -> list[int]:
    """Blocks per SM to ask ``__launch_bounds__`` for, from full occupancy down, one per distinct register budget
    (registers are allocated in multiples of 8 per thread, at most 255)."""
    levels, budgets = [], set()
    for blocks in range(THREADS_PER_SM.get(arch, 2048) // block, 0, -1):
        budget = _budget(block, blocks)
        if budget not in budgets:
            budgets.add(budget)
            levels.append(blocks)
    return levels


def spill_bytes(log: str) -> int:
    """Bytes of register spill stores ptxas reported in an NVRTC log compiled with ``--ptxas-options=-v``."""
    return sum(int(n) for n in re.findall(r"(\d+) bytes spill stores", log))


def compile_source(source: str, filename: str, arch: int, kind: str = "ptx", extra_options: tuple[str, ...] = (),
                   min_blocks: int | None = None, block: int = 256) -> bytes:
    """Compile one translation unit for ``sm_<arch>``: ``kind="ptx"`` (``compute_<arch>``) or ``"cubin"``.

    ``filename`` names the unit in NVRTC's messages and the cache (no extension). ``extra_options`` are appended to
    the NVRTC options (and key the cache). ``min_blocks`` sets ``SJ_MIN_BLOCKS`` (blocks of ``block`` threads per
    SM); ``None`` searches for the highest occupancy without spills (module docstring). Returns the PTX text (as
    bytes) or the CUBIN image. Raises :class:`KernelCompileError` on a compile error.
    """
    if kind not in ("ptx", "cubin"):
        raise ValueError(f"kind must be 'ptx' or 'cubin', got {kind!r}")
    options = (*OPTIONS, *extra_options) + (() if min_blocks is None else (f"-DSJ_MIN_BLOCKS={min_blocks}",))
    version = nvrtc_version()
    digest = hashlib.sha256("\0".join((source, *options, repr(version), str(block))).encode()).hexdigest()[:32]
    key = f"{filename}-{digest}-{'sm' if kind == 'cubin' else 'compute'}_{arch}.{kind}"
    with _lock:
        if key in _memory:
            return _memory[key]
    binary = disk_cache.load(key)
    if binary is not None and kind == "cubin" and not cubin.whole(binary):
        binary = None  # published but truncated (by an sj-cupy before the CuPy workaround): rebuilt
    if binary is None:
        probed = None
        if min_blocks is None:
            min_blocks, probed = _fullest_without_spills(source, filename, arch, options, block)
        if kind == "cubin" and probed is not None:
            binary = probed  # the winning probe: byte-identical to compiling it again without ``-v``
        else:
            binary, _ = _compile(source, filename, _gpu(arch, kind), (*options, f"-DSJ_MIN_BLOCKS={min_blocks}"),
                                 kind)
        disk_cache.store(key, binary)
    with _lock:
        _memory[key] = binary
    return binary


def _gpu(arch: int, kind: str) -> str:
    return f"--gpu-architecture={'compute' if kind == 'ptx' else 'sm'}_{arch}"


def _fullest_without_spills(source: str, filename: str, arch: int, options: tuple[str, ...],
                            block: int) -> tuple[int, bytes | None]:
    """``(level, cubin)``: the fullest of :func:`occupancy_levels` at which ptxas (compiling for ``sm_<arch>``)
    spills no register, found by bisection (spills only shrink as the register budget grows): about three probe
    compilations, the level remembered per source, options and architecture. ``cubin`` is the probe CUBIN compiled at
    that level (``--ptxas-options=-v`` only adds to the log: the image is the one compiling without it gives), or
    ``None`` where the level was not probed in this call (remembered, or the last level, taken untried)."""
    key = (hashlib.sha256(source.encode()).hexdigest(), options, arch, block)
    with _lock:
        if key in _levels:
            return _levels[key], None
    levels = occupancy_levels(arch, block)
    probes: dict[int, bytes] = {}
    lo, hi = 0, len(levels) - 1  # levels[hi] (the largest budget) is taken when every fuller one spills
    while lo < hi:
        mid = (lo + hi) // 2
        probes[mid], log = _compile(source, filename, _gpu(arch, "cubin"),
                                    (*options, "--ptxas-options=-v", f"-DSJ_MIN_BLOCKS={levels[mid]}"), "cubin")
        if spill_bytes(log):
            lo = mid + 1
        else:
            hi = mid
    with _lock:
        _levels[key] = levels[lo]
    return levels[lo], probes.get(lo)


def _budget(block: int, blocks: int) -> int:
    """Registers per thread ptxas may use when ``blocks`` blocks of ``block`` threads share an SM."""
    return min(255, _REGISTERS_PER_SM // (block * blocks) // 8 * 8)


def _compile(source: str, filename: str, gpu: str, options: tuple[str, ...], kind: str) -> tuple[bytes, str]:
    """``(binary, log)`` of one NVRTC compilation."""
    nvrtc = _nvrtc()
    options = (gpu, *options)
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
        log = nvrtc.getProgramLog(prog)
        if kind == "cubin":
            return cubin.complete(bytes(nvrtc.getCUBIN(prog))), log
        ptx = nvrtc.getPTX(prog)
        return (ptx if isinstance(ptx, bytes) else ptx.encode()), log
    finally:
        nvrtc.destroyProgram(prog)
