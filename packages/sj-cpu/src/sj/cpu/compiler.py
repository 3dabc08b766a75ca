"""Find a C compiler and turn generated C source into a shared library (torch-free: the build hook uses it too).

Run-time compilation (:func:`cached_library`) keys the library by the hash of its source and by the machine's
instruction set (:func:`host_tag`: it compiles with ``-march=native`` where the compiler can) under
``<sj cache>/cpu/``, a directory only this user can write; a file lock serialises concurrent first uses across
processes, the library is written to a temporary name and renamed into place, so no process ever loads a
half-written file, and its content digest is recorded, so a file that was not produced by that compile is never
loaded.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from sj.cache import publish, secure_dir, verified

CC_ENV = "SJ_CPU_CC"
WERROR_ENV = "SJ_CPU_WERROR"  # "1": run-time compiles treat warnings as errors (the test suite sets it)
CPUINFO = "/proc/cpuinfo"
_FEATURE_LINES = ("flags", "Features", "isa")  # the CPU's instruction-set features: x86, ARM, RISC-V
CFLAGS = ("-O3", "-std=c11", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off")
OPENMP = "-fopenmp"  # added where the compiler supports it (openmp_flags)
OPENMP_SIMD = "-fopenmp-simd"
WERROR = ("-Wall", "-Wextra", "-Werror")
_OPENMP_PROBE = "#include <omp.h>\nint sj_openmp_probe(void) { return omp_get_max_threads(); }\n"


class CompileError(RuntimeError):
    """The C compiler is missing or rejected the generated source."""


def library_suffix() -> str:
    """File name ending of shared libraries on this platform (``.so``, ``.dylib``, ``.dll``)."""
    if sys.platform == "darwin":
        return ".dylib"
    if sys.platform == "win32":
        return ".dll"
    return ".so"


def find_compiler() -> list[str] | None:
    """The C compiler command: ``$SJ_CPU_CC`` (``none`` disables compiling), else ``$CC``, ``cc``, ``gcc``,
    ``clang`` on PATH; ``None`` when there is none."""
    env = os.environ.get(CC_ENV)
    if env is not None:
        if env.strip().lower() in ("", "none", "0"):
            return None
        cmd = shlex.split(env)
        return cmd if shutil.which(cmd[0]) else None
    for cand in (os.environ.get("CC"), sysconfig.get_config_var("CC"), "cc", "gcc", "clang"):
        if cand:
            cmd = shlex.split(cand)
            if shutil.which(cmd[0]):
                return cmd
    return None


def compiler_reason() -> str:
    """Why no compiler is used (for messages), or the compiler command (and whether it lacks OpenMP)."""
    cmd = find_compiler()
    if cmd is not None:
        serial = "" if openmp_supported(tuple(cmd)) else " (no OpenMP support: kernels compiled here run on one thread)"
        return " ".join(cmd) + serial
    if os.environ.get(CC_ENV) is not None:
        return f"no C compiler: {CC_ENV}={os.environ[CC_ENV]!r}"
    return "no C compiler found (set $CC or $SJ_CPU_CC; tried cc, gcc, clang)"


def _accepts(cmd: tuple[str, ...], flag: str, source: str) -> bool:
    """Whether the compiler ``cmd`` builds and links ``source`` into a shared library with ``flag``."""
    with tempfile.TemporaryDirectory(prefix="sj-cpu-probe-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(source)
        try:
            res = subprocess.run([*cmd, "-fPIC", "-shared", flag, str(src), "-o",
                                  str(Path(tmp) / f"probe{library_suffix()}")], capture_output=True)
        except OSError:
            return False
    return res.returncode == 0


@functools.lru_cache(maxsize=8)
def openmp_supported(cmd: tuple[str, ...]) -> bool:
    """Whether the compiler ``cmd`` builds and links a shared library using OpenMP (``-fopenmp``). Apple's clang, for
    one, does not without a separately installed libomp; the kernels are then built without OpenMP threads and run on
    one thread (their parallel regions sit under ``#ifdef _OPENMP``), instead of failing to build."""
    return _accepts(cmd, OPENMP, _OPENMP_PROBE)


@functools.lru_cache(maxsize=8)
def openmp_flags(cmd: tuple[str, ...]) -> tuple[str, ...]:
    """The OpenMP flags for ``cmd``: ``-fopenmp``; without OpenMP support, ``-fopenmp-simd`` (the kernels' ``omp simd``
    loops still vectorise, no runtime needed) where it accepts that, else ``-Wno-unknown-pragmas``."""
    if openmp_supported(cmd):
        return (OPENMP,)
    if _accepts(cmd, OPENMP_SIMD, "int sj_probe(void) { return 0; }\n"):
        return (OPENMP_SIMD,)
    return ("-Wno-unknown-pragmas",)


def build_flags(*, werror: bool = False, march: str | None = None, openmp: tuple[str, ...] = (OPENMP,)) -> list[str]:
    """The flags :func:`compile_objects` passes the compiler (the linker gets them too); ``openmp``: see
    :func:`openmp_flags`."""
    return [*CFLAGS, *openmp, *(WERROR if werror else ()),
            *((f"-march={march}",) if march else ("-DSJ_TARGET_CLONES",))]


def flags_for(cmd: Sequence[str], *, werror: bool = False, march: str | None = None) -> list[str]:
    """:func:`build_flags` for the compiler ``cmd``, with the OpenMP flags it supports."""
    return build_flags(werror=werror, march=march, openmp=openmp_flags(tuple(cmd)))


@functools.lru_cache(maxsize=8)
def native_supported(cmd: tuple[str, ...]) -> bool:
    """Whether the compiler ``cmd`` builds for this machine's own instruction set (``-march=native``)."""
    return _accepts(cmd, "-march=native", "int sj_probe(void) { return 0; }\n")


def _runtime_options(cmd: Sequence[str]) -> dict:
    return {"werror": os.environ.get(WERROR_ENV, "") not in ("", "0"),
            "march": "native" if native_supported(tuple(cmd)) else None}


def runtime_flags(cmd: Sequence[str]) -> list[str]:
    """The flags of a run-time compile with ``cmd`` (:func:`cached_library`): this machine's instruction set where the
    compiler can target it, warnings as errors where ``$SJ_CPU_WERROR`` is ``1``."""
    return flags_for(cmd, **_runtime_options(cmd))


def compile_objects(sources: Sequence[Path], output: Path, *, werror: bool = False, march: str | None = None,
                    compiler: list[str] | None = None, jobs: int = 1) -> None:
    """Compile C ``sources`` (in parallel, ``jobs`` at a time) and link them into the shared library ``output``.

    ``march`` (e.g. ``"native"``, ``"x86-64-v3"``) selects an instruction set; without it the code is portable, with
    the kernels' chunk functions cloned for AVX2 where the toolchain supports it (x86-64 Linux, GCC or Clang: picked
    at load time; ~2× faster when the data sits in cache, ~10 % when memory-bound). OpenMP is used where the
    compiler supports it (:func:`openmp_flags`).
    """
    cmd = compiler or find_compiler()
    if cmd is None:
        raise CompileError(compiler_reason())
    flags = flags_for(cmd, werror=werror, march=march)
    objects = [src.with_suffix(".o") for src in sources]
    procs: list[tuple[subprocess.Popen, Path]] = []

    def wait(p: subprocess.Popen, src: Path) -> None:
        _, err = p.communicate()
        if p.returncode != 0:
            raise CompileError(f"{' '.join(cmd)} failed on {src} (exit {p.returncode}):\n{err[-4000:]}")

    for src, obj in zip(sources, objects):
        if len(procs) >= max(1, jobs):
            wait(*procs.pop(0))
        c = [*cmd, *[f for f in flags if f != "-shared"], "-c", str(src), "-o", str(obj)]
        procs.append((subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), src))
    for p, src in procs:
        wait(p, src)
    link = [*cmd, *flags, *map(str, objects), "-o", str(output)]
    res = subprocess.run(link, capture_output=True, text=True)
    if res.returncode != 0:
        raise CompileError(f"linking {output} failed (exit {res.returncode}):\n{res.stderr[-4000:]}")


@functools.lru_cache(maxsize=1)
def host_tag() -> str:
    """Names what a run-time compile here targets: a digest of the machine type, the processor name and the CPU's
    feature flags (from ``/proc/cpuinfo``, where there is one). Run-time libraries are built with
    ``-march=native``: a cache directory shared by machines of different CPUs (a network home directory on a cluster)
    must not hand one of them a library using instructions it lacks, which kills the process with SIGILL."""
    parts = [platform.machine(), platform.processor()]
    try:
        with open(CPUINFO) as f:
            parts += [line.split(":", 1)[1].strip() for line in f
                      if ":" in line and line.split(":", 1)[0].strip() in _FEATURE_LINES][:1]
    except OSError:
        pass
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


class _FileLock:
    """An exclusive advisory lock on ``path`` (fcntl on POSIX; msvcrt on Windows), held inside ``with``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> _FileLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(self.fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        assert self.fd is not None
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def cached_library(source: str, key: str, cache: Path, log: Path | None = None) -> Path:
    """The shared library compiled from ``source``, as ``cache/<key>-<host tag><suffix>``; compiled once across
    processes (per :func:`host_tag`).

    ``cache`` must be a directory only this user can write (:func:`sj.cache.secure_dir` creates it with mode 0700 and
    raises :class:`sj.cache.UntrustedCacheError` otherwise), and a library found there is used only while its content
    matches the digest recorded by the compile that produced it (:func:`sj.cache.verified`); any other file under
    that name (planted, truncated, edited) is compiled over, never loaded. ``log`` (tests, diagnostics) receives
    one line per actual compilation.
    """
    cache = secure_dir(cache)
    key = f"{key}-{host_tag()}"
    target = cache / f"{key}{library_suffix()}"
    if verified(target):
        return target
    with _FileLock(cache / f"{key}.lock"):
        if verified(target):  # another process compiled it while we waited for the lock
            return target
        if target.exists():
            warnings.warn(f"sj-cpu: {target} does not match the digest its compile recorded (or has no record); "
                          "compiling it again instead of loading it", RuntimeWarning, stacklevel=2)
        with tempfile.TemporaryDirectory(dir=cache, prefix=f"{key}.build.") as tmp:
            src = Path(tmp) / f"{key}.c"
            src.write_text(source)
            out = Path(tmp) / f"{key}{library_suffix()}"
            cmd = find_compiler()
            if cmd is None:
                raise CompileError(compiler_reason())
            compile_objects([src], out, compiler=cmd, **_runtime_options(cmd))
            publish(out, target)
        if log is not None:
            with open(log, "a") as f:
                f.write(f"{os.getpid()} compiled {key}\n")
    return target
