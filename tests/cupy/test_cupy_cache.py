"""sj-cupy's binary caches: memory and a trusted disk cache (private directory, digest records), whole CUBINs.

A binary in the disk cache is loaded into the GPU, so a file planted or edited there must never be returned (it is
recompiled and republished instead), and a cache directory other users could write is refused with a clear error.
CuPy's ``getCUBIN`` drops the last byte of a CUBIN: the cached CUBIN must be the whole image NVRTC produced.
"""

from __future__ import annotations

import ctypes
import os
import sys

import pytest
import torch

pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")

from sj.cache import UntrustedCacheError, record_path
from sj.cupy import compiler, cubin
from sj.cupy.cuda_types import cuda_type
from sj.cupy.kernels import backward_kernel, forward_kernel
from sj.ops.spec import MultiStepSpec

posix = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
SPEC = MultiStepSpec("lif", "ATan", (2.0,), False, False, False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh sj cache root and an empty in-memory cache (a new process, as far as caching goes); counts the NVRTC
    compilations of the final binaries (the occupancy search is not counted)."""
    monkeypatch.setenv("SJ_CACHE_DIR", str(tmp_path / "sj"))
    monkeypatch.delenv("SJ_CUPY_DISK_CACHE", raising=False)
    monkeypatch.setattr(compiler, "_memory", {})
    calls = []
    real = compiler._compile
    monkeypatch.setattr(compiler, "_compile", lambda *a: calls.append(a) or real(*a))
    return tmp_path / "sj" / "cupy", calls


def _kernel():
    return forward_kernel(SPEC, cuda_type(torch.float32), 4, False)


def test_memory_then_disk_then_another_architecture(cache, monkeypatch) -> None:
    folder, calls = cache
    ks = _kernel()
    first = compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=2)
    assert len(calls) == 1 and compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=2) is first
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 2 and files[0].endswith("sm_90.cubin") and files[1] == files[0] + ".sha256"
    assert (folder / files[0]).read_bytes() == first
    monkeypatch.setattr(compiler, "_memory", {})  # a new process: served from disk, not recompiled
    assert compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=2) == first and len(calls) == 1
    compiler.compile_source(ks.source, ks.name, 80, "cubin", min_blocks=2)  # another architecture, another binary
    assert len(calls) == 2


@pytest.mark.parametrize("tamper", ["edited", "planted", "record_removed"])
def test_a_binary_not_published_by_sj_is_never_loaded(cache, monkeypatch, tamper) -> None:
    folder, calls = cache
    ks = _kernel()
    good = compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=2)
    path = next(p for p in folder.iterdir() if p.suffix == ".cubin")
    if tamper == "edited":  # same name, other content; its record still says the original digest
        path.write_bytes(good[:-16] + b"\xde\xad\xbe\xef" * 4)
    elif tamper == "planted":  # a file put there by someone else: no digest record of sj's
        record_path(path).unlink()
        path.write_bytes(b"\x7fELF" + b"\x00" * 200)
    else:
        record_path(path).unlink()
    monkeypatch.setattr(compiler, "_memory", {})
    assert compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=2) == good
    assert len(calls) == 2, "the tampered file must have been recompiled, not loaded"
    assert path.read_bytes() == good and record_path(path).exists()  # republished


@posix
def test_a_cache_directory_others_can_write_is_refused(cache) -> None:
    folder, _ = cache
    folder.mkdir(parents=True)
    os.chmod(folder.parent, 0o700)
    os.chmod(folder, 0o777)
    ks = _kernel()
    with pytest.raises(UntrustedCacheError, match=r"cupy is writable by group or others.*chmod 700"):
        compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=2)


def test_disk_cache_off(cache, monkeypatch) -> None:
    folder, calls = cache
    monkeypatch.setenv("SJ_CUPY_DISK_CACHE", "0")
    ks = _kernel()
    compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=2)
    assert not folder.exists() and len(calls) == 1


def _nvrtc_cubin(source: str, arch: int) -> tuple[bytes, bytes]:
    """(CuPy's getCUBIN, the image read with NVRTC's own nvrtcGetCUBINSize/nvrtcGetCUBIN through ctypes)."""
    from cupy.cuda import nvrtc

    maps = [line.split()[-1] for line in open("/proc/self/maps") if "libnvrtc.so" in line]
    lib = ctypes.CDLL(sorted(set(maps))[0])
    prog = nvrtc.createProgram(source, "k.cu", [], [])
    try:
        nvrtc.compileProgram(prog, [f"--gpu-architecture=sm_{arch}", *compiler.OPTIONS])
        size = ctypes.c_size_t()
        assert lib.nvrtcGetCUBINSize(ctypes.c_void_p(prog), ctypes.byref(size)) == 0
        buf = ctypes.create_string_buffer(size.value)
        assert lib.nvrtcGetCUBIN(ctypes.c_void_p(prog), buf) == 0
        return bytes(nvrtc.getCUBIN(prog)), buf.raw
    finally:
        nvrtc.destroyProgram(prog)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds libnvrtc through /proc/self/maps")
@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_cubin_is_whole(cache, dtype) -> None:
    """The cached CUBIN is byte for byte what NVRTC produced, though CuPy's getCUBIN returns one byte less."""
    ks = backward_kernel(SPEC, cuda_type(dtype), 16 // cuda_type(dtype).itemsize, True, (True, False, True))
    via_cupy, full = _nvrtc_cubin(ks.source, 90)
    assert len(via_cupy) in (len(full) - 1, len(full))  # 1 short on CuPy <= 14.2; equal once CuPy is fixed
    assert cubin.complete(via_cupy) == full and cubin.whole(full) and len(full) == cubin.expected_size(full)
    assert compiler.compile_source(ks.source, ks.name, 90, "cubin", min_blocks=1) == full


def test_truncated_or_foreign_images_are_refused() -> None:
    ks = _kernel()
    _, full = _nvrtc_cubin(ks.source, 80) if sys.platform.startswith("linux") else (None, None)
    if full is None:
        pytest.skip("needs /proc/self/maps")
    assert not cubin.whole(full[:-1]) and not cubin.whole(full[:-2]) and not cubin.whole(b"not an ELF")
    with pytest.raises(ValueError, match="ELF header describes"):
        cubin.complete(full[:-2])
    with pytest.raises(ValueError, match="not a little-endian ELF64"):
        cubin.complete(b"\x7fELF\x01\x01" + b"\x00" * 100)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_the_occupancy_search_winner_is_not_compiled_twice(cache, monkeypatch, dtype) -> None:
    """With ``min_blocks=None`` the CUBIN is the winning probe's image: NVRTC compiles each level at most once, and
    the image is byte for byte what compiling the winning level alone (without ``-v``) gives."""
    from cupy.cuda import nvrtc

    monkeypatch.setenv("SJ_CUPY_DISK_CACHE", "0")
    monkeypatch.setattr(compiler, "_levels", {})
    compiled = []
    real = nvrtc.compileProgram
    monkeypatch.setattr(nvrtc, "compileProgram", lambda prog, options: compiled.append(options) or real(prog, options))
    vec = 16 // cuda_type(dtype).itemsize
    ks = backward_kernel(SPEC, cuda_type(dtype), vec, True, (True, True, True), (True,), (True, True, True))
    image = compiler.compile_source(ks.source, ks.name, 90, "cubin")
    levels = [next(o for o in options if o.startswith("-DSJ_MIN_BLOCKS=")) for options in compiled]
    assert compiled and len(levels) == len(set(levels)), levels  # no level, the winner included, compiled twice
    winner = compiler._levels[next(iter(compiler._levels))]
    assert f"-DSJ_MIN_BLOCKS={winner}" in levels
    again, _ = compiler._compile(ks.source, ks.name, "--gpu-architecture=sm_90",
                                 (*compiler.OPTIONS, f"-DSJ_MIN_BLOCKS={winner}"), "cubin")
    assert image == again
    compiled.clear()
    assert compiler.compile_source(ks.source, ks.name, 90, "ptx") and len(compiled) == 1  # the level remembered
