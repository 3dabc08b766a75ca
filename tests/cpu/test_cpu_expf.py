"""The generated kernels' inlinable ``sj_expf``: accurate against numpy's float32 exp, NaN/inf behaviour as
documented, and loops that use it stay vectorised (with a branch in its rounding GCC 12 left AVX2 loops scalar,
which made the Sigmoid backward ~10x slower)."""

import ctypes
import re
import subprocess
import sys

import numpy as np
import pytest

import sj.neuron.builtin  # noqa: F401
from sj.cpu import codegen, compiler
from sj.ops.spec import MultiStepSpec

pytestmark = pytest.mark.skipif(compiler.find_compiler() is None, reason="no C compiler")

_HARNESS = codegen.HEADER + """
SJ_EXPORT void sj_test_expf(const float *x, float *y, int64_t n) {
    for (int64_t j = 0; j < n; ++j) y[j] = sj_expf(x[j]);
}
"""


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia, ib = a.view(np.int32).astype(np.int64), b.view(np.int32).astype(np.int64)
    return np.abs(ia - ib)


def test_sj_expf_is_within_2_ulp_of_numpy(tmp_path):
    src = tmp_path / "expf.c"
    src.write_text(_HARNESS)
    compiler.compile_objects([src], tmp_path / "expf.so")
    fn = ctypes.CDLL(str(tmp_path / "expf.so")).sj_test_expf
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    x = np.concatenate([np.linspace(-87.0, 88.72, 2_000_001, dtype=np.float32),
                        np.array([0.0, -0.0, 0.5 * np.log(2.0), -0.5 * np.log(2.0), 1e-30, -1e-30], np.float32),
                        (np.arange(-120, 121, dtype=np.float32) * 0.5 * np.float32(np.log(2.0)))])  # rounding ties
    special = np.array([np.nan, np.inf, -np.inf, 88.73, -100.0], dtype=np.float32)
    x = np.ascontiguousarray(np.concatenate([x, special]))
    y = np.empty_like(x)
    fn(x.ctypes.data, y.ctypes.data, x.size)
    n = x.size - special.size
    expected = np.exp(x[:n].astype(np.float64)).astype(np.float32)
    normal = expected >= np.finfo(np.float32).tiny
    assert _ulps(y[:n][normal], expected[normal]).max() <= 2
    assert np.all(y[:n][~normal] < 2e-38)
    nan, pinf, ninf, big, small = y[n:]
    assert np.isnan(nan) and pinf == np.inf and 0 <= ninf < 2e-38
    assert big == np.inf and 0 <= small < 2e-38  # exp(88.73) overflows float32


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="x86-64 GCC vectoriser report")
def test_simd_loops_of_a_sigmoid_kernel_vectorise_with_avx2(tmp_path):
    cmd = compiler.find_compiler()
    version = subprocess.run([*cmd, "--version"], capture_output=True, text=True).stdout
    if "gcc" not in version.lower() and "free software foundation" not in version.lower():
        pytest.skip("the vectoriser report checked here is GCC's")
    probe = subprocess.run([*cmd, "-mavx2", "-E", "-x", "c", "-"], input="", capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("compiler does not target AVX2 (not x86-64)")
    spec = MultiStepSpec("lif", "Sigmoid", (4.0,), False, False, False)
    src = tmp_path / "lif.c"
    text = codegen.translation_unit([(spec.program, [spec.surrogate_program])], ("f32",))
    src.write_text(text)
    res = subprocess.run([*cmd, *[f for f in compiler.CFLAGS if f != "-shared"], "-mavx2", "-c", str(src), "-o",
                          str(tmp_path / "lif.o"), "-fopt-info-vec-all"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "optimized: loop vectorized using 32 byte vectors" in res.stderr
    simd = _simd_loop_lines(text)
    scalar = [m for m in re.finditer(r"lif\.c:(\d+):\d+: missed: not vectorized: control flow in loop", res.stderr)
              if int(m.group(1)) in simd]
    assert simd and not scalar, f"`omp simd` loops left scalar with AVX2: {[m.group(0) for m in scalar[:4]]}"


def _simd_loop_lines(text: str) -> set[int]:
    """1-based line numbers inside the loops that follow ``#pragma omp simd``."""
    lines, inside = text.splitlines(), set()
    for i, line in enumerate(lines):
        if line.strip() != "#pragma omp simd":
            continue
        depth, j = 0, i + 1
        while True:
            depth += lines[j].count("{") - lines[j].count("}")
            inside.add(j + 1)
            if depth <= 0 and "}" in lines[j]:
                break
            j += 1
    return inside
