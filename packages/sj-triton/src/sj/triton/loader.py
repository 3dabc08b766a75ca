"""Write generated kernel modules to a content-addressed cache, import them, and wrap them for launching.

A module's file is ``<cache>/triton/<sha256 of its source>.py`` (``$SJ_CACHE_DIR`` or ``~/.cache/sj``), written
atomically; Triton needs a real file to read a ``@triton.jit`` function's source. The source embeds
:data:`IMPLEMENTATION_HASH` (a hash of this package's code generators and Triton's version), so changing the
generator changes every file name and, because Triton keys its own compile cache on the kernel source, every
compiled binary too. Imported kernels are kept in memory per (source, interpreter mode, autotuning).

Block size is autotuned over :data:`CONFIGS` per neuron count ``N`` (and tensor dtypes). A single configuration
(``BLOCK = 1024``, 4 warps) is used under ``TRITON_INTERPRET=1`` (autotuning there would only multiply test time)
and when ``SJ_TRITON_AUTOTUNE=0`` (test suites that compile hundreds of kernel variants; throughput may be lower).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import triton
from sj.cache import atomic_write, cache_root
from sj.triton import tlmath
from sj.triton.kernels import KernelSignature, module_source, signature

_IMPLEMENTATION_FILES = ("printer.py", "kernels.py", "tlmath.py", "loader.py", "launch.py")


def _implementation_hash() -> str:
    h = hashlib.sha256(triton.__version__.encode())
    here = Path(__file__).parent
    for name in _IMPLEMENTATION_FILES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


IMPLEMENTATION_HASH = _implementation_hash()

# (BLOCK, num_warps) candidates on a GPU; each program loops over T, so blocks stay moderate.
CONFIGS = ((256, 2), (512, 4), (1024, 4), (1024, 8), (2048, 8))
SINGLE_BLOCK = 1024


def interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    knobs = getattr(triton, "knobs", None)
    if knobs is not None and hasattr(knobs, "runtime"):
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@dataclass(frozen=True)
class Kernels:
    """The launchable kernels of one neuron × reset × surrogate, and where their source lives."""

    forward: object
    backward: object
    signature: KernelSignature
    path: Path


_lock = threading.Lock()
_loaded: dict[tuple[str, bool, bool], Kernels] = {}


def kernel_dir() -> Path:
    """Where generated Triton modules are cached: ``<sj cache>/triton``."""
    return cache_root() / "triton"


def autotuning() -> bool:
    """Whether block sizes are autotuned (not under the interpreter, not with ``SJ_TRITON_AUTOTUNE=0``)."""
    return not interpreting() and os.environ.get("SJ_TRITON_AUTOTUNE", "1") != "0"


def _configs(tune: bool) -> list:
    if not tune:
        return [triton.Config({"BLOCK": SINGLE_BLOCK}, num_warps=4)]
    return [triton.Config({"BLOCK": b}, num_warps=w) for b, w in CONFIGS]


def _import(path: Path, name: str, interpret: bool):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import generated kernels from {path}")
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(tlmath.functions(interpret))
    spec.loader.exec_module(module)
    return module


def load(program: dict, surrogate_program: dict) -> Kernels:
    """The kernels for a neuron's derived ``program`` and a surrogate's ``surrogate_program`` (generated, written
    to the cache and imported on first use)."""
    source = module_source(program, surrogate_program, IMPLEMENTATION_HASH)
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    interpret, tune = interpreting(), autotuning()
    key = (digest, interpret, tune)
    with _lock:
        if key in _loaded:
            return _loaded[key]
    path = kernel_dir() / f"{digest}.py"
    if not path.exists() or path.read_text() != source:
        atomic_write(path, source)
    module = _import(path, f"sj_triton_generated_{digest}_{int(interpret)}{int(tune)}", interpret)
    configs = _configs(tune)
    fwd = triton.autotune(configs=configs, key=["N"])(triton.jit(module.forward_kernel))
    bwd = triton.autotune(configs=configs, key=["N"])(triton.jit(module.backward_kernel))
    kernels = Kernels(fwd, bwd, signature(program, surrogate_program), path)
    with _lock:
        _loaded.setdefault(key, kernels)
        return _loaded[key]
