"""Load compiled kernels through ctypes: the prebuilt library shipped in the wheel, or libraries compiled at run time.

The C ABI (see :mod:`sj.cpu.codegen`): ``int kernel(const args *, int threads)`` where ``args`` is the struct
:class:`sj.cpu.args.FwdArgs` or :class:`sj.cpu.args.BwdArgs` describes (pointers only, so one layout serves float32
and float64), passed as the address :mod:`sj.cpu.args` packs.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sj.cpu import codegen, compiler, prebuilt

LIBRARY_ENV = "SJ_CPU_LIBRARY"


@dataclass(frozen=True)
class Kernels:
    """The forward and backward kernels of one (neuron program, surrogate, scalar type), where they came from, and
    whether the backward reads ``x`` (the program's ``needs_x``)."""

    forward: ctypes._CFuncPtr
    backward: ctypes._CFuncPtr
    origin: str
    needs_x: bool


def _bind(lib: ctypes.CDLL, name: str) -> ctypes._CFuncPtr:
    fn = getattr(lib, name)
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int]  # the address of the packed argument struct, the thread count
    fn.restype = ctypes.c_int
    return fn


def build_record(lib: ctypes.CDLL) -> str | None:
    """The library's ``sj_cpu_build_record()`` text (:func:`sj.cpu.prebuilt.build_record`), ``None`` for a library
    built before records existed."""
    fn = getattr(lib, "sj_cpu_build_record", None)
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    return fn().decode()


def default_library_path() -> Path:
    """Where the wheel's build hook puts the prebuilt library (``$SJ_CPU_LIBRARY`` overrides)."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env)
    return Path(__file__).with_name("_lib") / prebuilt.library_name()


class Loader:
    """Finds kernels: prebuilt library first, then run-time compilation into the cache, else a reason why not."""

    def __init__(self, cache_dir: Path, library_path: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.library_path = library_path or default_library_path()
        self._lock = threading.Lock()
        self._prebuilt: ctypes.CDLL | None = None
        self._prebuilt_reason: str | None = None
        self._loaded = False
        self._jit: dict[str, ctypes.CDLL] = {}

    def prebuilt(self) -> tuple[ctypes.CDLL | None, str | None]:
        """The prebuilt library, or ``None`` and why it is not used."""
        with self._lock:
            if not self._loaded:
                self._loaded = True
                self._prebuilt, self._prebuilt_reason = self._open_prebuilt()
            return self._prebuilt, self._prebuilt_reason

    def prebuilt_serial(self) -> bool:
        """Whether the prebuilt library was built without OpenMP (its compiler had none): its kernels run on one
        thread."""
        lib, _ = self.prebuilt()
        record = build_record(lib) if lib is not None else None
        return record is not None and compiler.OPENMP not in prebuilt.parse_build_record(record)[1]

    def _open_prebuilt(self) -> tuple[ctypes.CDLL | None, str | None]:
        path = self.library_path
        if not path.exists():
            note = prebuilt.no_kernels_note(path)
            if note.exists():
                why = (note.read_text().strip().splitlines() or ["(no reason recorded)"])[0]
                return None, (f"prebuilt kernel library {path} is absent: the package's build could not compile it "
                              f"({why}; the whole message is in {note})")
            return None, f"prebuilt kernel library {path} is absent (package built with SJ_CPU_SKIP_BUILD=1?)"
        try:
            lib = ctypes.CDLL(str(path))
            version = lib.sj_cpu_abi_version()
        except (OSError, AttributeError) as exc:
            return None, f"prebuilt kernel library {path} cannot be loaded: {exc}"
        if version != codegen.ABI_VERSION:
            return None, f"prebuilt kernel library {path} has ABI {version}, this sj-cpu expects {codegen.ABI_VERSION}"
        return lib, None

    def kernels(self, program: dict, surrogate: dict, suffix: str) -> Kernels:
        """Kernels for ``program`` × ``surrogate`` in ``suffix``; raises :class:`compiler.CompileError` when they are
        neither prebuilt nor compilable here."""
        fwd = codegen.forward_symbol(program, suffix)
        bwd = codegen.backward_symbol(program, surrogate, suffix)
        lib, _ = self.prebuilt()
        if lib is not None:
            try:
                return Kernels(_bind(lib, fwd), _bind(lib, bwd), "prebuilt", bool(program["needs_x"]))
            except AttributeError:
                pass  # not a built-in variant (user-declared neuron or surrogate, or changed declaration)
        source = codegen.translation_unit([(program, [surrogate])], (suffix,))
        key = codegen.source_hash(source)
        with self._lock:
            jit = self._jit.get(key)
        if jit is None:
            log = os.environ.get("SJ_CPU_JIT_LOG")
            path = compiler.cached_library(source, key, self.cache_dir, Path(log) if log else None)
            jit = ctypes.CDLL(str(path))
            with self._lock:
                self._jit[key] = jit
        return Kernels(_bind(jit, fwd), _bind(jit, bwd), f"compiled at run time ({key})", bool(program["needs_x"]))
