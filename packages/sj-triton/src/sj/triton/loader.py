"""Write generated kernel modules to a content-addressed cache, check them, import them, and wrap them with
``triton.jit``.

A module's file is ``<cache>/triton/<sha256 of its source>.py`` (``$SJ_CACHE_DIR`` or ``~/.cache/sj``); Triton needs a
real file to read a ``@triton.jit`` function's source. The file is imported, so it is trusted only as
:mod:`sj.cache` says: the directory must be private (:func:`sj.cache.private_dir` refuses, with
:class:`sj.cache.UntrustedCacheError`, one that another user could write), and a file is used only when its content is
exactly the source sj generated for its name; any other file found there (planted, edited, truncated) is replaced by
the generated source, atomically, before the import. The module object runs the in-memory source, never the file's.

The source embeds :data:`IMPLEMENTATION_HASH` (a hash of this package's code generators and Triton's version), so
changing the generator changes every file name and, because Triton keys its own compile cache on the kernel source,
every compiled binary too. Imported kernels are kept in memory per (source, interpreter mode).
"""

from __future__ import annotations

import hashlib
import os
import threading
import types
from dataclasses import dataclass
from pathlib import Path

import triton
from sj.cache import atomic_write, cache_root, private_dir
from sj.triton import tlmath
from sj.triton.kernels import KernelSignature, module_source, signature

_IMPLEMENTATION_FILES = ("printer.py", "kernels.py", "tlmath.py", "loader.py", "specialize.py")


def _implementation_hash() -> str:
    h = hashlib.sha256(triton.__version__.encode())
    here = Path(__file__).parent
    for name in _IMPLEMENTATION_FILES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


IMPLEMENTATION_HASH = _implementation_hash()


def interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    knobs = getattr(triton, "knobs", None)
    if knobs is not None and hasattr(knobs, "runtime"):
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@dataclass(frozen=True)
class Kernels:
    """The ``triton.jit`` functions of one neuron × reset × surrogate, their signature and their source file."""

    forward: object
    backward: object
    signature: KernelSignature
    path: Path


_lock = threading.Lock()
_loaded: dict[tuple[str, bool], Kernels] = {}


def kernel_dir() -> Path:
    """Where generated modules are written (not created or checked here; :func:`load` does both)."""
    return cache_root() / "triton"


def _trusted_file(source: str, digest: str) -> Path:
    """The module file for ``source``, in the private cache directory, holding exactly ``source``."""
    path = private_dir("triton") / f"{digest}.py"
    data = source.encode()
    try:
        found = path.read_bytes()
    except FileNotFoundError:
        found = None
    if found != data:  # absent, or not what sj generated for this name: never imported, replaced
        atomic_write(path, data, mode=0o600)
    return path


def _import(source: str, path: Path, name: str, interpret: bool) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__dict__.update(tlmath.functions(interpret))
    exec(compile(source, str(path), "exec"), module.__dict__)  # the checked in-memory source, not a re-read file
    return module


def load(program: dict, surrogate_program: dict) -> Kernels:
    """The kernels for a neuron's derived ``program`` and a surrogate's ``surrogate_program`` (generated, written
    to the cache and imported on first use)."""
    source = module_source(program, surrogate_program, IMPLEMENTATION_HASH)
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    interpret = interpreting()
    key = (digest, interpret)
    with _lock:
        if key in _loaded:
            return _loaded[key]
    path = _trusted_file(source, digest)
    module = _import(source, path, f"sj_triton_generated_{digest}_{int(interpret)}", interpret)
    kernels = Kernels(triton.jit(module.forward_kernel), triton.jit(module.backward_kernel),
                      signature(program, surrogate_program), path)
    with _lock:
        return _loaded.setdefault(key, kernels)
