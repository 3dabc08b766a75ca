"""Storage and compute types of the generated kernels, and the CUDA C prelude that loads and stores them.

Tensors are read and written in their own dtype (the *storage* type) and every computation runs in the *compute*
type: ``float`` for float16/bfloat16/float32, ``double`` for float64. The prelude needs no header (NVRTC without
``cuda_fp16.h``): half conversions are single PTX ``cvt`` instructions; bfloat16 → float is a shift and float →
bfloat16 rounds to nearest even in integer arithmetic, so every architecture NVRTC targets accepts it.

``vec`` elements are moved per memory instruction (2 packs a pair of 16-bit values into one 32-bit access: the
``half2`` path). A kernel with ``vec > 1`` requires ``N % vec == 0`` and every pointer aligned to ``vec`` elements;
the launcher checks both and otherwise picks ``vec = 1`` (no padding, no tail).
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
VECS = (1, 2)


def cuda_type(dtype: torch.dtype) -> CudaType:
    """The :class:`CudaType` of ``dtype``; ``TypeError`` naming the supported dtypes otherwise."""
    try:
        return _TYPES[dtype]
    except KeyError:
        raise TypeError(f"the cupy backend supports {[str(d) for d in SUPPORTED_DTYPES]}, got {dtype}") from None


def preferred_vec(dtype: torch.dtype) -> int:
    """Elements per thread when shapes and alignment allow: 2 for 16-bit types (one 32-bit access), else 1."""
    return 2 if cuda_type(dtype).itemsize == 2 else 1


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
        f"typedef {st} st_t;",
        f"typedef {cp} ct_t;",
        f"static __device__ __forceinline__ ct_t sj_ld1(st_t u) {{ {ct.to_compute} }}",
        f"static __device__ __forceinline__ st_t sj_st1(ct_t f) {{\n    {ct.to_storage}\n}}",
        "static __device__ __forceinline__ ct_t sj_sign(ct_t a) { return (ct_t)((a > (ct_t)0) - (a < (ct_t)0)); }",
        *_saved_h(ct),
    ]
    if vec == 1:
        lines += [
            "static __device__ __forceinline__ void sj_load(const st_t* __restrict__ p, long long o, ct_t* out) "
            "{ out[0] = sj_ld1(p[o]); }",
            "static __device__ __forceinline__ void sj_store(st_t* __restrict__ p, long long o, const ct_t* in) "
            "{ p[o] = sj_st1(in[0]); }",
        ]
    else:
        lines += [
            f"struct __align__({vec * ct.itemsize}) sj_pack {{ st_t e[{vec}]; }};",
            "static __device__ __forceinline__ void sj_load(const st_t* __restrict__ p, long long o, ct_t* out) {",
            "    const sj_pack q = *reinterpret_cast<const sj_pack*>(p + o);",
            "#pragma unroll",
            f"    for (int k = 0; k < {vec}; ++k) out[k] = sj_ld1(q.e[k]);",
            "}",
            "static __device__ __forceinline__ void sj_store(st_t* __restrict__ p, long long o, const ct_t* in) {",
            "    sj_pack q;",
            "#pragma unroll",
            f"    for (int k = 0; k < {vec}; ++k) q.e[k] = sj_st1(in[k]);",
            "    *reinterpret_cast<sj_pack*>(p + o) = q;",
            "}",
        ]
    return "\n".join(lines) + "\n"
