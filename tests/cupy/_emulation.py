"""Run sj-cupy's generated CUDA C on the CPU, for numerics checks without a GPU.

Inside :func:`emulated_launches`, the ``cupy`` backend runs on CPU tensors (:func:`sj.cupy.stub_launch.
stubbed_launches`) and each kernel is the very source sj-cupy generates, compiled by the host C++ compiler with a small
shim: CUDA's qualifiers become nothing, ``__ldg``/``__uint_as_float``/... plain loads and bit casts, the PTX ``cvt``
half conversions ``_Float16`` casts (the same round-to-nearest-even), the ``st.global`` vector stores ``memcpy``, and a
launch is a loop over the grid's blocks and threads (kernels share nothing between threads, so order is irrelevant).
A launch packs its parameter block exactly as on a GPU and hands the block to the compiled loop: argument order,
vector widths, flags and the host path are all the real ones. Math functions come from the host's libm (a few ulp
from CUDA's, far inside the conformance tolerances).
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sj.cupy import backend, launch
from sj.cupy.kernels import BLOCK
from sj.cupy.stub_launch import stubbed_launches

COMPILER = shutil.which("g++") or shutil.which("c++")

SHIM = r"""
#include <math.h>
#include <string.h>
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
struct sj_dim3 { unsigned int x, y, z; };
static sj_dim3 blockIdx, threadIdx;
struct uint4 { unsigned int x, y, z, w; };
struct float4 { float x, y, z, w; };
struct double2 { double x, y; };
template <class T> static inline T __ldg(const T* p) { T v; memcpy(&v, p, sizeof(T)); return v; }
static inline float __uint_as_float(unsigned int u) { float f; memcpy(&f, &u, 4); return f; }
static inline unsigned int __float_as_uint(float f) { unsigned int u; memcpy(&u, &f, 4); return u; }
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }
static inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }
static inline float sj_h2f(unsigned short u) { _Float16 h; memcpy(&h, &u, 2); return (float)h; }
static inline unsigned short sj_f2h(float f) {
    _Float16 h = (_Float16)f; unsigned short u; memcpy(&u, &h, 2); return u;
}
"""

# the prelude's inline PTX, each with its host equivalent
_ASM = [
    (r'asm\("cvt\.f32\.f16 %0, %1;" : "=f"\((\w+)\) : "h"\((\w+)\)\);', r"\1 = sj_h2f(\2);"),
    (r'asm\("cvt\.rn\.f16\.f32 %0, %1;" : "=h"\((\w+)\) : "f"\((\w+)\)\);', r"\1 = sj_f2h(\2);"),
    (r'asm volatile\("st\.global\.v4\.u32 \[%0\], \{%1, %2, %3, %4\};" :: "l"\(p \+ o\), "r"\(w\[0\]\), '
     r'"r"\(w\[1\]\), "r"\(w\[2\]\), "r"\(w\[3\]\)\);', "memcpy(p + o, w, 16);"),
    (r'asm volatile\("st\.global\.v2\.f64 \[%0\], \{%1, %2\};" :: "l"\(p \+ o\), "d"\(in\[0\]\), "d"\(in\[1\]\)\);',
     "memcpy(p + o, in, 16);"),
]
_C_ARG = {"ptr": "st_t*", "i64": "long long", "i32": "int", "scalar": "ct_t"}


def host_source(ks) -> str:
    """``ks``'s CUDA C made host C++, plus ``sj_host_run(params, grid)``: the launch over ``grid`` blocks."""
    source = ks.source
    for pattern, replacement in _ASM:
        source = re.sub(pattern, replacement, source)
    if "asm" in source:
        raise AssertionError("the CUDA C prelude has inline PTX the host emulation does not translate")
    args = ", ".join(f"*({_C_ARG[kind]}*)params[{i}]" for i, (_, kind) in enumerate(ks.args))
    run = (f'extern "C" void sj_host_run(void** params, int grid) {{\n'
           f"    for (int b = 0; b < grid; ++b) for (int t = 0; t < {BLOCK}; ++t) {{\n"
           f"        blockIdx.x = b; threadIdx.x = t;\n        {ks.name}({args});\n    }}\n}}\n")
    return SHIM + source + run


def _build(ks, folder: Path):
    source = host_source(ks)
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    library = folder / f"{ks.name}-{digest}.so"
    if not library.exists():
        src = folder / f"{ks.name}-{digest}.cpp"
        src.write_text(source)
        out = subprocess.run([COMPILER, "-O1", "-shared", "-fPIC", "-std=c++17", "-o", str(library), str(src)],
                             capture_output=True, text=True)
        if out.returncode:
            raise AssertionError(f"host compilation of {ks.name} failed:\n{out.stderr[-4000:]}")
    run = ctypes.CDLL(str(library)).sj_host_run
    run.argtypes, run.restype = [ctypes.c_void_p, ctypes.c_int], None
    return run


@contextmanager
def emulated_launches(folder: Path) -> Iterator[None]:
    """The ``cupy`` backend on CPU tensors, its kernels compiled for and run on the host (libraries in ``folder``)."""
    runs: list = []

    def load_function(ks, index: int) -> int:
        runs.append(_build(ks, folder))
        return len(runs)

    def launch_kernel(function: int, grid: int, stream: int, params: int) -> None:
        runs[function - 1](params, grid)

    with stubbed_launches():
        saved = launch.load_function, launch.launch_kernel, backend._plans
        # plans of its own: those made by plain stubbed blocks point at kernels that launch nothing
        launch.load_function, launch.launch_kernel, backend._plans = load_function, launch_kernel, {}
        try:
            yield
        finally:
            launch.load_function, launch.launch_kernel, backend._plans = saved
