"""Storage and compute types of the generated kernels, and the CUDA C prelude that loads and stores them.

Tensors are read and written in their own dtype (the *storage* type) and every computation runs in the *compute*
type: ``float`` for float16/bfloat16/float32, ``double`` for float64. The prelude needs no header (NVRTC without
``cuda_fp16.h``): half conversions are single PTX ``cvt`` instructions; bfloat16 → float is a shift and float →
bfloat16 rounds to nearest even in integer arithmetic, so every architecture NVRTC targets accepts it.

``vec`` elements are moved per memory instruction: 1, or as many as fill 16 bytes (:func:`preferred_vec`: 8 in
float16/bfloat16, 4 in float32, 2 in float64), loaded with one ``__ldg`` of a 128-bit type and stored with one
``st.global.v4``/``.v2`` (16-bit values are packed two to a 32-bit word with shifts, so stores are never split into
16-bit pieces). A kernel
with ``vec > 1`` requires ``N % vec == 0`` and every pointer 16-byte aligned; the launcher checks both and otherwise
picks ``vec = 1`` (no padding, no tail).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CudaType:
    """How one torch dtype is stored and computed in CUDA C."""

    name: str        # torch dtype name without the prefix: "float16", ...
    storage: str     # C type of one stored element
    compute: str     # "float" or "double": the CPrinter flavour
    to_compute: str  # C body of ``compute sj_ld1(storage u)``
    to_storage: str  # C body of ``storage sj_st1(compute f)``
    itemsize: int


_TYPES = {
    torch.float32: CudaType("float32", "float", "float", "return u;", "return f;", 4),
    torch.float64: CudaType("float64", "double", "double", "return u;", "return f;", 8),
    torch.float16: CudaType(
        "float16", "unsigned short", "float",
        'float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(u)); return f;',
        'unsigned short u; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(u) : "f"(f)); return u;', 2),
    torch.bfloat16: CudaType(
        "bfloat16", "unsigned short", "float",
        "return __uint_as_float(((unsigned int)u) << 16);",
        "unsigned int b = __float_as_uint(f);\n"
        "    if ((b & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((b >> 16) | 0x40u);  /* quiet NaN */\n"
        "    b += 0x7fffu + ((b >> 16) & 1u);  /* round to nearest even */\n"
        "    return (unsigned short)(b >> 16);", 2),
}

SUPPORTED_DTYPES: tuple[torch.dtype, ...] = tuple(_TYPES)
VECS = (1, 2, 4, 8)  # 1, or 16 bytes' worth of the dtype


def cuda_type(dtype: torch.dtype) -> CudaType:
    """The :class:`CudaType` of ``dtype``; ``TypeError`` naming the supported dtypes otherwise."""
    try:
        return _TYPES[dtype]
    except KeyError:
        raise TypeError(f"the cupy backend supports {[str(d) for d in SUPPORTED_DTYPES]}, got {dtype}") from None


def preferred_vec(dtype: torch.dtype) -> int:
    """Elements per thread when shapes and alignment allow: one 16-byte access (8, 4 or 2 elements)."""
    return 16 // cuda_type(dtype).itemsize


def _saved_h(ct: CudaType) -> list[str]:
    """``sj_saved_h(h, vth, s)``: H as it is saved for backward, which recomputes the spike as ``h - vth >= 0``.

    Stored in the tensor's dtype, a 16-bit H just below a (representable) threshold can round up onto it and the
    backward would see a spike the forward did not fire. Rounding is monotonic, so only that case exists; it is
    stored as the largest value below the threshold instead (one unit in the last place away from nearest).
    """
    if ct.itemsize >= 4:
        return ["static __device__ __forceinline__ ct_t sj_saved_h(ct_t h, ct_t vth, ct_t s) { return h; }"]
    return [
        "static __device__ __forceinline__ ct_t sj_saved_h(ct_t h, ct_t vth, ct_t s) {",
        "    const ct_t hr = sj_ld1(sj_st1(h));",
        "    if ((hr - vth >= (ct_t)0) == (s != (ct_t)0)) return hr;",
        "    const st_t t = sj_st1(vth);",
        "    if (s != (ct_t)0) return sj_ld1(t);  /* unreachable for a representable threshold */",
        "    /* next value below the threshold: 16-bit sign-magnitude, +-0 steps to the smallest negative */",
        "    return sj_ld1((t & 0x7fffu) == 0u ? (st_t)0x8001u : (t & 0x8000u) ? (st_t)(t + 1u) : (st_t)(t - 1u));",
        "}",
    ]


def _load_store(ct: CudaType, vec: int) -> list[str]:
    """``sj_load(p, o, out)`` / ``sj_store(p, o, in)``: ``vec`` elements at ``p + o`` to/from compute-type arrays."""
    head_ld = "static __device__ __forceinline__ void sj_load(const st_t* __restrict__ p, long long o, ct_t* out) {"
    head_st = "static __device__ __forceinline__ void sj_store(st_t* __restrict__ p, long long o, const ct_t* in) {"
    if vec == 1:
        return [head_ld, "    out[0] = sj_ld1(p[o]);", "}", head_st, "    p[o] = sj_st1(in[0]);", "}"]
    if vec * ct.itemsize != 16:
        raise ValueError(f"vec {vec} of {ct.name} is not a 16-byte access (use 1 or {16 // ct.itemsize})")
    # loads: __ldg (ld.global.nc.v4 / .v2); stores: one st.global.v4 / .v2 (a plain struct store can be split into
    # 32-bit pieces by NVVM, and __stwb would make it a strong store)
    if ct.itemsize == 8:  # two doubles
        return [head_ld, "    const double2 q = __ldg(reinterpret_cast<const double2*>(p + o));",
                "    out[0] = q.x;", "    out[1] = q.y;", "}", head_st,
                '    asm volatile("st.global.v2.f64 [%0], {%1, %2};" :: "l"(p + o), "d"(in[0]), "d"(in[1]));', "}"]
    if ct.itemsize == 4:  # four floats
        load = ["    const float4 q = __ldg(reinterpret_cast<const float4*>(p + o));",
                "    out[0] = q.x; out[1] = q.y; out[2] = q.z; out[3] = q.w;"]
        words = ["    unsigned int w[4];", "#pragma unroll",
                 "    for (int i = 0; i < 4; ++i) w[i] = __float_as_uint(in[i]);"]
    else:  # eight 16-bit values, two per 32-bit word (low half first: little-endian memory order)
        load = ["    const uint4 q = __ldg(reinterpret_cast<const uint4*>(p + o));",
                "    const unsigned int w[4] = {q.x, q.y, q.z, q.w};", "#pragma unroll",
                "    for (int i = 0; i < 4; ++i) {", "        out[2 * i] = sj_ld1((st_t)(w[i] & 0xffffu));",
                "        out[2 * i + 1] = sj_ld1((st_t)(w[i] >> 16));", "    }"]
        words = ["    unsigned int w[4];", "#pragma unroll", "    for (int i = 0; i < 4; ++i)",
                 "        w[i] = (unsigned int)sj_st1(in[2 * i]) | ((unsigned int)sj_st1(in[2 * i + 1]) << 16);"]
    return [head_ld, *load, "}", head_st, *words,
            '    asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" :: "l"(p + o), "r"(w[0]), "r"(w[1]), '
            '"r"(w[2]), "r"(w[3]));', "}"]


def prelude(ct: CudaType, vec: int) -> str:
    """Type definitions and the ``sj_load``/``sj_store`` helpers of one (dtype, vec) translation unit."""
    if vec not in VECS:
        raise ValueError(f"vec must be one of {VECS}, got {vec}")
    st, cp = ct.storage, ct.compute
    lines = [
        f"/* sj-cupy prelude: storage {ct.name} ({st}), compute {cp}, {vec} element(s) per access */",
        "#ifndef INFINITY",
        "#define INFINITY __int_as_float(0x7f800000)",
        "#endif",
        "#ifndef NAN",
        "#define NAN __int_as_float(0x7fffffff)",
        "#endif",
        "#ifndef SJ_MIN_BLOCKS  /* blocks per SM the kernels' __launch_bounds__ ask for (set by sj.cupy.compiler) */",
        "#define SJ_MIN_BLOCKS 1",
        "#endif",
        f"typedef {st} st_t;",
        f"typedef {cp} ct_t;",
        f"static __device__ __forceinline__ ct_t sj_ld1(st_t u) {{ {ct.to_compute} }}",
        f"static __device__ __forceinline__ st_t sj_st1(ct_t f) {{\n    {ct.to_storage}\n}}",
        "static __device__ __forceinline__ ct_t sj_sign(ct_t a) { return (ct_t)((a > (ct_t)0) - (a < (ct_t)0)); }",
        *_saved_h(ct),
    ]
    lines += _load_store(ct, vec)
    return "\n".join(lines) + "\n"
