"""Why the cupy backend can or cannot run in this process, in words a user can act on.

Each probe step catches only the failure it is about and reports the module or call that failed, with its own
message, so an unrelated import error is never mistaken for "CuPy is not installed" (SpikingJelly's most reported
install confusion). The steps, in order: CuPy imports → NVRTC loads → an NVIDIA driver is present and new enough
for CuPy's CUDA → a device is visible → torch itself can use CUDA (and is not a ROCm build).
"""

from __future__ import annotations

import importlib
from functools import cache

import torch

INSTALL_HINT = ("pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12 (CUDA 12 driver), or cupy-cuda11x with a CUDA 11 "
                "toolkit, or cupy-cuda13x + nvidia-cuda-nvrtc (CUDA 13)")


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _import_cupy() -> tuple[object | None, str | None]:
    try:
        cupy = importlib.import_module("cupy")
    except ModuleNotFoundError as exc:
        if exc.name == "cupy":
            return None, f"CuPy is not installed (import cupy: {_error(exc)}); {INSTALL_HINT}"
        return None, (f"CuPy is installed but importing it failed because module {exc.name!r} is missing "
                      f"(import cupy: {_error(exc)})")
    except Exception as exc:
        where = getattr(exc, "name", None) or getattr(exc, "path", None)
        at = f" in {where!r}" if where else ""
        return None, f"CuPy is installed but `import cupy` failed{at}: {_error(exc)}"
    return cupy, None


def _cuda_attr(name: str):
    """``cupy.cuda.<name>`` (``nvrtc`` is an attribute re-exported from cupy_backends, not a submodule)."""
    return getattr(importlib.import_module("cupy.cuda"), name)


def _check_nvrtc() -> str | None:
    try:
        version = _cuda_attr("nvrtc").getVersion()
    except Exception as exc:
        return (f"NVRTC could not be loaded (cupy.cuda.nvrtc.getVersion(): {_error(exc)}); install "
                "nvidia-cuda-nvrtc-cu12 (or put the CUDA toolkit's libnvrtc on LD_LIBRARY_PATH) - see docs/cupy.md")
    if not version or version[0] < 11:
        return f"NVRTC {version} is too old: sj-cupy needs NVRTC 11 or newer"
    return None


def _check_driver() -> str | None:
    runtime = _cuda_attr("runtime")
    try:
        driver = runtime.driverGetVersion()
    except Exception as exc:
        return f"the NVIDIA driver could not be queried (cupy.cuda.runtime.driverGetVersion(): {_error(exc)})"
    built = runtime.runtimeGetVersion()
    if driver == 0:
        return "no CUDA device: no NVIDIA driver is installed (cudaDriverGetVersion returned 0)"
    if driver // 1000 < built // 1000:
        return (f"the NVIDIA driver is too old: it supports CUDA {driver // 1000}.{driver % 1000 // 10} but CuPy is "
                f"built for CUDA {built // 1000}.{built % 1000 // 10}; update the driver or install the CuPy wheel "
                f"for CUDA {driver // 1000} (cupy-cuda{driver // 1000}x)")
    try:
        count = runtime.getDeviceCount()
    except Exception as exc:
        return f"no CUDA device: cupy.cuda.runtime.getDeviceCount() failed ({_error(exc)})"
    if count == 0:
        return "no CUDA device: the driver sees no GPU (check CUDA_VISIBLE_DEVICES)"
    return None


def _check_torch() -> str | None:
    if getattr(torch.version, "hip", None):
        return f"torch {torch.__version__} is a ROCm build; the cupy backend generates CUDA C for NVIDIA GPUs"
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is built without CUDA, so it cannot hand CUDA tensors to CuPy"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device"
    return None


def probe() -> str | None:
    """Run every check now; ``None`` when the backend can run, else the first failure's reason."""
    _, reason = _import_cupy()
    if reason is not None:
        return reason
    for check in (_check_nvrtc, _check_driver, _check_torch):
        reason = check()
        if reason is not None:
            return reason
    return None


@cache
def cached_probe() -> str | None:
    """:func:`probe`, run once per process (the backend is asked on every call)."""
    return probe()


def versions() -> str:
    """``cupy X, NVRTC a.b, driver c.d`` for what could be found (best effort, for ``sj backends``)."""
    parts = []
    try:
        cupy = importlib.import_module("cupy")
        parts.append(f"cupy {cupy.__version__}")
        major, minor = _cuda_attr("nvrtc").getVersion()
        parts.append(f"NVRTC {major}.{minor}")
        driver = _cuda_attr("runtime").driverGetVersion()
        if driver:
            parts.append(f"driver CUDA {driver // 1000}.{driver % 1000 // 10}")
    except Exception:
        pass
    return ", ".join(parts)
