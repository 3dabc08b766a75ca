"""What the generated CUDA C compiles to (no GPU needed): loop-invariant work hoisted out of the time loop, 16-byte
vector loads and stores, no IEEE-division slow path, and the fullest occupancy at which nothing spills."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import torch

pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")

from sj.cupy import compiler
from sj.cupy.cuda_types import cuda_type, preferred_vec
from sj.cupy.hoist import hoist
from sj.cupy.kernels import BLOCK, backward_kernel, forward_kernel
from sj.ops.spec import MultiStepSpec

LIF = MultiStepSpec("lif", "ATan", (2.0,), False, False, False)
PARAMS = {"v_threshold", "v_reset", "tau"}


def test_hoist_moves_parameter_work_before_the_loop():
    before, loop, (out,) = hoist([["h", ["+", "v", ["/", ["+", "x", ["neg", "v"]], "tau"]]],
                                  ["k", ["/", 1, ["+", "tau", 1]]],
                                  ["g", ["/", "h", 4]], ["q", ["/", "h", "v"]]], [["/", "g", "tau"]], PARAMS)
    assert before == [("rcp0", ["/", 1, "tau"]), ("k", ["/", 1, ["+", "tau", 1]])]  # k: exact, computed once
    loop = dict(loop)
    assert loop["h"] == ["+", "v", ["*", ["+", "x", ["neg", "v"]], "rcp0"]]  # division by a parameter: reciprocal
    assert loop["g"] == ["*", "h", 0.25]  # division by a literal: multiplication
    assert loop["q"] == ["/", "h", "v"]  # a divisor that changes every step stays a division
    assert out == ["*", "g", "rcp0"]  # one reciprocal per divisor, shared


def test_lif_backward_computes_its_reciprocal_once():
    ks = backward_kernel(LIF, cuda_type(torch.float32), 4, False, (False, False, True), (False,))
    loop = ks.body[ks.body.index("for (int t = T - 1"):]
    assert "const ct_t r_cse0 = ((1.0f) / (r_tau));" in ks.body[:ks.body.index("for (int t = T - 1")]
    assert "/ (r_tau)" not in loop and "sj_ld1(p_tau[0])" in ks.body  # a 0-d tau: read once


def _ptx(ks) -> str:
    return compiler.compile_source(ks.source, ks.name, 90, "ptx", min_blocks=1).decode()


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64], ids=str)
def test_lif_moves_16_bytes_per_access(dtype, monkeypatch):
    monkeypatch.setenv("SJ_CUPY_DISK_CACHE", "0")
    vec = preferred_vec(dtype)
    width = "v2.f64" if dtype == torch.float64 else "v4.u32"
    for ks in (forward_kernel(LIF, cuda_type(dtype), vec, True),
               backward_kernel(LIF, cuda_type(dtype), vec, False, (False, False, True), (False,))):
        ptx = _ptx(ks)
        stores = set(re.findall(r"st\.global(?:\.\w+)*", ptx))
        assert stores == {f"st.global.{width}"}, stores  # never split into 16- or 32-bit pieces
        loads = set(re.findall(r"ld\.global(?:\.\w+)*", ptx))
        assert any(re.fullmatch(r"ld\.global\.nc\.(v4\.[uf]32|v2\.f64)", a) for a in loads), loads
    scalar = _ptx(forward_kernel(LIF, cuda_type(dtype), 1, True))
    assert not re.search(r"st\.global\.v\d", scalar)  # the scalar path: element accesses


def _cuobjdump() -> str | None:
    try:
        import triton
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    return path if os.path.exists(path) else None


@pytest.mark.skipif(_cuobjdump() is None, reason="needs cuobjdump (shipped in Triton's wheel)")
def test_lif_sass_has_no_division_slow_path_and_no_spills(tmp_path, monkeypatch):
    monkeypatch.setenv("SJ_CUPY_DISK_CACHE", "0")
    for ks in (forward_kernel(LIF, cuda_type(torch.float32), 4, True),
               backward_kernel(LIF, cuda_type(torch.float32), 4, False, (False, False, True), (False,))):
        path = tmp_path / f"{ks.name}.cubin"
        path.write_bytes(compiler.compile_source(ks.source, ks.name, 90, "cubin"))
        sass = subprocess.run([_cuobjdump(), "-sass", str(path)], capture_output=True, text=True, check=True).stdout
        assert "STG.E.128" in sass and "LDG.E.128" in sass
        assert "CALL" not in sass, "a division slow-path subroutine is called"
        assert not re.search(r"\b(STL|LDL)\b", sass), "registers spilled to local memory"


def test_occupancy_levels():
    assert compiler.occupancy_levels(90, 256) == [8, 6, 5, 4, 3, 2, 1]  # 32, 40, 48, 64, 80, 128, 255 registers
    assert compiler.occupancy_levels(86, 256) == [6, 5, 4, 3, 2, 1]  # 1536 threads per SM


def test_occupancy_search_takes_the_fullest_level_without_spills(monkeypatch):
    monkeypatch.setattr(compiler, "_levels", {})
    fp32 = forward_kernel(LIF, cuda_type(torch.float32), 4, True)
    assert compiler._fullest_without_spills(fp32.source, fp32.name, 90, compiler.OPTIONS, BLOCK)[0] == 8
    ks = backward_kernel(LIF, cuda_type(torch.float16), 8, True, (True, True, True), (True,), (True, True, True))
    level, probe = compiler._fullest_without_spills(ks.source, ks.name, 90, compiler.OPTIONS, BLOCK)
    levels = compiler.occupancy_levels(90, BLOCK)
    spills = {}
    for blocks in levels[max(0, levels.index(level) - 1):levels.index(level) + 1]:
        _, log = compiler._compile(ks.source, ks.name, "--gpu-architecture=sm_90",
                                   (*compiler.OPTIONS, "--ptxas-options=-v", f"-DSJ_MIN_BLOCKS={blocks}"), "cubin")
        spills[blocks] = compiler.spill_bytes(log)
    assert spills[level] == 0 and level < 8 and spills[levels[levels.index(level) - 1]] > 0
    assert compiler._fullest_without_spills(ks.source, ks.name, 90, compiler.OPTIONS, BLOCK) == (level, None)
    if probe is not None:  # the winning probe's image: what compiling that level without -v gives
        assert probe == compiler._compile(ks.source, ks.name, "--gpu-architecture=sm_90",
                                          (*compiler.OPTIONS, f"-DSJ_MIN_BLOCKS={level}"), "cubin")[0]
