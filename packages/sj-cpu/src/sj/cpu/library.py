"""Load compiled kernels through ctypes: the prebuilt library shipped in the wheel, or libraries compiled at run time.

The C ABI (see :mod:`sj.cpu.codegen`): ``int kernel(const args *, int threads)`` where ``args`` is the struct
:class:`sj.cpu.args.FwdArgs` or :class:`sj.cpu.args.BwdArgs` describes (pointers only, so one layout serves float32
and float64), passed as the address :mod:`sj.cpu.args` packs.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

from sj.cpu import codegen, compiler, prebuilt

LIBRARY_ENV = "SJ_CPU_LIBRARY"


class Kernels:
    """The forward and backward kernels of one (neuron program, surrogate, scalar type).

    From the prebuilt library, one exported kernel per direction serves every variant (:mod:`sj.cpu.codegen`).
    Otherwise each variant a call needs (:func:`~sj.cpu.codegen.forward_variant`,
    :func:`~sj.cpu.codegen.backward_variant`, picked from the call's flags only then) is compiled on its first use,
    alone, into the loader's cache (:meth:`Loader.compiled`), so a first call compiles a fraction of the whole kernel;
    ``forward``/``backward`` raise :class:`~sj.cpu.compiler.CompileError` (or :class:`~sj.cpu.codegen.CodegenError`)
    when that is impossible.
    ``needs_x``: whether the backward reads ``x`` (the program's ``needs_x``).
    """

    def __init__(self, loader: Loader, program: dict, surrogate: dict, suffix: str,
                 prebuilt: tuple[ctypes._CFuncPtr, ctypes._CFuncPtr] | None = None) -> None:
        self.loader, self.program, self.surrogate, self.suffix = loader, program, surrogate, suffix
        self.needs_x = bool(program["needs_x"])
        self.origin = "prebuilt" if prebuilt is not None else "compiled on first use"
        self._prebuilt = prebuilt
        self._variants: dict[tuple[str, str], ctypes._CFuncPtr] = {}

    def forward(self, scalar: bool) -> ctypes._CFuncPtr:
        """The forward kernel of a call whose parameters are all 0-d tensors (``scalar``) or not."""
        if self._prebuilt is not None:  # serves every variant: none to pick
            return self._prebuilt[0]
        variant = codegen.forward_variant(scalar)
        fn = self._variants.get(("fwd", variant))
        if fn is None:
            source = codegen.forward_unit(self.program, self.suffix, variant)
            fn = self._variants.setdefault(("fwd", variant), _bind(self.loader.compiled(source),
                                                                   codegen.forward_symbol(self.program, self.suffix)))
        return fn

    def backward(self, scalar: bool, wanted: list[bool]) -> ctypes._CFuncPtr:
        """The backward kernel of a call whose parameters are all 0-d (``scalar``) or not, ``wanted`` flagging the
        parameters whose gradients it accumulates."""
        if self._prebuilt is not None:  # serves every variant: none to pick
            return self._prebuilt[1]
        variant = codegen.backward_variant(self.program, scalar, wanted)
        fn = self._variants.get(("bwd", variant))
        if fn is None:
            source = codegen.backward_unit(self.program, self.surrogate, self.suffix, variant)
            symbol = codegen.backward_symbol(self.program, self.surrogate, self.suffix)
            fn = self._variants.setdefault(("bwd", variant), _bind(self.loader.compiled(source), symbol))
        return fn


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


def library_candidates() -> list[Path]:
    """Where an installed sj-cpu's prebuilt library can lie: ``cpu/_lib/`` under each directory of the ``sj`` namespace
    package. A wheel puts it beside this module; an editable install puts it in its environment's site-packages (the
    sources stay in the checkout, and every environment installed from that checkout has its own library)."""
    import sj

    return [Path(root) / "cpu" / "_lib" / prebuilt.library_name() for root in sj.__path__]


def default_library_path() -> Path:
    """The prebuilt library this installation uses (``$SJ_CPU_LIBRARY`` overrides): the first candidate of
    :func:`library_candidates` that holds the library or the note saying why its build has none."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env)
    found = library_candidates()
    return next((p for p in found if p.exists() or prebuilt.no_kernels_note(p).exists()), found[0])


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
        """Kernels for ``program`` × ``surrogate`` in ``suffix``: the prebuilt library's where it has them, else
        kernels compiled variant by variant on first use (see :class:`Kernels`)."""
        lib, _ = self.prebuilt()
        if lib is not None:
            try:
                fns = (_bind(lib, codegen.forward_symbol(program, suffix)),
                       _bind(lib, codegen.backward_symbol(program, surrogate, suffix)))
                return Kernels(self, program, surrogate, suffix, fns)
            except AttributeError:
                pass  # outside the hot set (or a user declaration, or a changed declaration)
        return Kernels(self, program, surrogate, suffix)

    def compiled(self, source: str) -> ctypes.CDLL:
        """The library compiled from ``source`` (:func:`sj.cpu.compiler.cached_library`: once per content across
        processes), loaded once per process. ``$SJ_CPU_JIT_LOG`` names a file that gets a line per compilation."""
        key = codegen.source_hash(source)
        with self._lock:
            lib = self._jit.get(key)
        if lib is None:
            log = os.environ.get("SJ_CPU_JIT_LOG")
            path = compiler.cached_library(source, key, self.cache_dir, Path(log) if log else None)
            lib = ctypes.CDLL(str(path))
            with self._lock:
                lib = self._jit.setdefault(key, lib)
        return lib
