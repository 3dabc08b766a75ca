"""Compile one specialisation of a generated kernel, with every type and compile-time fact given explicitly.

Triton's ``JITFunction.run`` infers a kernel's specialisation from the arguments on every launch (types, integer
divisibility, pointer alignment, values equal to 1) and looks the binary up: about 20 µs of host time per launch.
sj-triton instead states the specialisation itself (:class:`Variant`), compiles it once with
``triton.compile(ASTSource(...), target=...)`` — which needs no driver, so the tests compile every kernel for sm_80 and
sm_90 on a machine without a GPU — and launches the compiled kernel directly (:mod:`sj.triton.launch`).

A variant fixes: forward or backward, the storage dtype (pointer types; fp16/bf16/fp32 compute in fp32, float64 in
fp64), the ``tl.constexpr`` flags (see :mod:`sj.triton.kernels`), whether the launch is ``aligned``, and the block size
and warp count. ``aligned`` states that every pointer is 16-byte aligned and that ``N`` (hence ``LAST``) is a multiple
of 16: with it, pointers that advance by ``N`` each step stay aligned and loads and stores become 16-byte vector
accesses; without it (an odd ``N``, an offset view) the same kernel compiles with element accesses. ``T`` is never
specialised (one binary serves every ``T``, ``T = 1`` included). Fused multiply-add is enabled explicitly
(:data:`FP_FUSION`; Triton 3.9 warns that its default changes in 3.10).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import triton
import triton.language as tl
from sj.triton.kernels import CONSTEXPR, FLOAT, PTR

FP_FUSION = True  # a*b + c contracted to one rounding: what every sj-triton GPU figure and conformance run used
STORAGE = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32", torch.float64: "fp64"}
_ALIGNED = [["tt.divisibility", 16]]


def compute_dtype(dtype: torch.dtype):
    """The kernels' ``CDT``: ``tl.float64`` for float64 tensors, ``tl.float32`` for the others."""
    return tl.float64 if dtype == torch.float64 else tl.float32


@dataclass(frozen=True)
class Variant:
    """One compiled specialisation. ``flags``: the values of the kernel's ``tl.constexpr`` flags before ``CDT`` and
    ``BLOCK``, in signature order."""

    kind: str  # "forward" or "backward"
    dtype: torch.dtype
    flags: tuple[bool, ...]
    aligned: bool
    block: int
    num_warps: int

    def constexpr_values(self) -> tuple:
        """Every ``tl.constexpr`` argument's value, in signature order (``CDT`` and ``BLOCK`` last)."""
        return (*self.flags, compute_dtype(self.dtype), self.block)


def forward_variant(dtype: torch.dtype, full: tuple[bool, ...], save: bool, store_v: bool, aligned: bool,
                    config: tuple[int, int]) -> Variant:
    """The forward kernel's variant: per-parameter ``FULL_<p>`` flags, ``SAVE``, ``STORE_V``; ``config`` is
    ``(BLOCK, num_warps)``."""
    return Variant("forward", dtype, (*full, save, store_v), aligned, *config)


def backward_variant(dtype: torch.dtype, full: tuple[bool, ...], grad: tuple[bool, ...],
                     has_glast: tuple[bool, ...], has_gv: bool, aligned: bool, config: tuple[int, int]) -> Variant:
    """The backward kernel's variant: ``FULL_<p>``, ``GRAD_<p>``, ``HAS_GLAST_<s>`` and ``HAS_GV`` flags."""
    return Variant("backward", dtype, (*full, *grad, *has_glast, has_gv), aligned, *config)


def arguments(kernels, kind: str) -> tuple[tuple[str, str], ...]:
    """The ``(name, kind)`` arguments of ``kernels``' forward or backward kernel."""
    sig = kernels.signature
    return sig.forward_args() if kind == "forward" else sig.backward_args()


def ast_source(kernels, v: Variant):
    """The ``triton.compiler.ASTSource`` of variant ``v`` of ``kernels`` (a :class:`sj.triton.loader.Kernels`)."""
    from triton.compiler import ASTSource

    args = arguments(kernels, v.kind)
    storage, compute = STORAGE[v.dtype], "fp64" if v.dtype == torch.float64 else "fp32"
    spelled = {PTR: "*" + storage, FLOAT: compute, CONSTEXPR: "constexpr"}
    types = {name: spelled.get(kind, kind) for name, kind in args}
    flags = [name for name, kind in args if kind == CONSTEXPR]
    if len(flags) != len(v.flags) + 2:
        raise ValueError(f"{v.kind} kernel takes flags {flags[:-2]}, got {len(v.flags)} values")
    constexprs = dict(zip(flags, v.constexpr_values()))
    attrs = {(i,): _ALIGNED for i, (name, kind) in enumerate(args)
             if v.aligned and (kind == PTR or name in ("N", "LAST"))}
    fn = kernels.forward if v.kind == "forward" else kernels.backward
    return ASTSource(fn, types, constexprs, attrs)


def compile_variant(kernels, v: Variant, target):
    """Compile variant ``v`` for ``target`` (``triton.backends.compiler.GPUTarget``); Triton's on-disk cache makes a
    repeat free. Returns Triton's ``CompiledKernel`` (``.asm["ptx"]``, ``.asm["cubin"]``)."""
    return triton.compile(ast_source(kernels, v), target=target,
                          options={"num_warps": v.num_warps, "enable_fp_fusion": FP_FUSION})
