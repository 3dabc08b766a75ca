"""``sj backends`` says exactly why the cupy backend cannot run; each failure is simulated here."""

from __future__ import annotations

import importlib.abc
import subprocess
import sys
import types

import torch

from sj.cupy import availability


class _Refuse(importlib.abc.MetaPathFinder):
    """Makes ``import <name>`` fail the way a missing or broken install does."""

    def __init__(self, name: str, exc: BaseException) -> None:
        self.name, self.exc = name, exc

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name or fullname.startswith(self.name + "."):
            raise self.exc
        return None


def _hide_cupy(monkeypatch, exc: BaseException) -> None:
    for mod in [m for m in sys.modules if m == "cupy" or m.startswith(("cupy.", "cupy_backends"))]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(sys, "meta_path", [_Refuse("cupy", exc), *sys.meta_path])


def _fake_cupy(monkeypatch, *, nvrtc=None, driver: int = 12080, runtime: int = 12090, devices: int = 1) -> None:
    """A stand-in ``cupy`` whose NVRTC/driver/device answers are chosen by the test."""
    def nvrtc_version():
        if isinstance(nvrtc, BaseException):
            raise nvrtc
        return nvrtc or (12, 9)

    def device_count():
        if isinstance(devices, BaseException):
            raise devices
        return devices

    rt = types.SimpleNamespace(driverGetVersion=lambda: driver, runtimeGetVersion=lambda: runtime,
                               getDeviceCount=device_count)
    cuda = types.ModuleType("cupy.cuda")
    cuda.nvrtc = types.SimpleNamespace(getVersion=nvrtc_version)
    cuda.runtime = rt
    cupy = types.ModuleType("cupy")
    cupy.__version__ = "0.0-test"
    cupy.cuda = cuda
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cuda)


def _torch_cuda(monkeypatch, *, cuda: str | None = "12.4", hip: str | None = None, available: bool = True) -> None:
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.version, "hip", hip, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)


def test_cupy_missing(monkeypatch) -> None:
    _hide_cupy(monkeypatch, ModuleNotFoundError("No module named 'cupy'", name="cupy"))
    reason = availability.probe()
    assert reason.startswith("CuPy is not installed (import cupy: ModuleNotFoundError: No module named 'cupy')")
    assert "pip install cupy-cuda12x" in reason


def test_cupy_broken_names_the_failing_import(monkeypatch) -> None:
    """An unrelated import error inside CuPy is reported as such, never as 'CuPy is not installed'."""
    _hide_cupy(monkeypatch, ImportError("libcudart.so.12: cannot open shared object file",
                                        name="cupy_backends.cuda.api.runtime"))
    reason = availability.probe()
    assert "not installed" not in reason
    assert reason == ("CuPy is installed but `import cupy` failed in 'cupy_backends.cuda.api.runtime': ImportError: "
                      "libcudart.so.12: cannot open shared object file")


def test_cupy_dependency_missing(monkeypatch) -> None:
    _hide_cupy(monkeypatch, ModuleNotFoundError("No module named 'fastrlock'", name="fastrlock"))
    reason = availability.probe()
    assert "module 'fastrlock' is missing" in reason and "not installed" not in reason


def test_nvrtc_missing(monkeypatch) -> None:
    _fake_cupy(monkeypatch, nvrtc=RuntimeError("CuPy failed to load libnvrtc.so.12: OSError: cannot open"))
    reason = availability.probe()
    assert reason.startswith("NVRTC could not be loaded (cupy.cuda.nvrtc.getVersion(): RuntimeError: CuPy failed "
                             "to load libnvrtc.so.12")
    assert "nvidia-cuda-nvrtc-cu12" in reason


def test_no_driver(monkeypatch) -> None:
    _fake_cupy(monkeypatch, driver=0)
    assert availability.probe() == "no CUDA device: no NVIDIA driver is installed (cudaDriverGetVersion returned 0)"


def test_driver_too_old(monkeypatch) -> None:
    _fake_cupy(monkeypatch, driver=11040, runtime=12090)
    reason = availability.probe()
    assert reason.startswith("the NVIDIA driver is too old: it supports CUDA 11.4 but CuPy is built for CUDA 12.9")
    assert "cupy-cuda11x" in reason


def test_no_device(monkeypatch) -> None:
    _fake_cupy(monkeypatch, devices=0)
    assert "no CUDA device: the driver sees no GPU" in availability.probe()
    _fake_cupy(monkeypatch, devices=RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected"))
    assert availability.probe() == ("no CUDA device: cupy.cuda.runtime.getDeviceCount() failed (RuntimeError: "
                                    "cudaErrorNoDevice: no CUDA-capable device is detected)")


def test_torch_without_cuda(monkeypatch) -> None:
    _fake_cupy(monkeypatch)
    _torch_cuda(monkeypatch, cuda=None, available=False)
    assert "is built without CUDA" in availability.probe()
    _torch_cuda(monkeypatch, hip="6.2")
    assert "is a ROCm build" in availability.probe()
    _torch_cuda(monkeypatch, available=False)
    assert "sees no CUDA device" in availability.probe()


def test_everything_present(monkeypatch) -> None:
    _fake_cupy(monkeypatch)
    _torch_cuda(monkeypatch)
    assert availability.probe() is None
    assert availability.versions() == "cupy 0.0-test, NVRTC 12.9, driver CUDA 12.8"


def test_plugin_loads_and_sj_backends_explains() -> None:
    """Without CuPy the plug-in still registers and `sj backends` prints the reason (fresh process, real import)."""
    code = ("import sys; sys.modules['cupy'] = None\n"  # `import cupy` now raises ModuleNotFoundError
            "from sj.backends.registry import status\n"
            "row = next(r for r in status() if r.name == 'cupy')\n"
            "print(row.available, row.reason)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False CuPy is not installed (import cupy: ")
    if not torch.cuda.is_available():
        cli = subprocess.run([sys.executable, "-m", "sj.cli.main", "backends"], capture_output=True, text=True,
                             timeout=120)
        assert cli.returncode == 0, cli.stderr
        line = next(ln for ln in cli.stdout.splitlines() if ln.startswith("cupy"))
        assert "unavailable" in line
