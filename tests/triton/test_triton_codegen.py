"""The Triton printer and the kernel generator (no kernel runs here except the tlmath accuracy check)."""

from __future__ import annotations

import _triton_env  # noqa: F401 - sets TRITON_INTERPRET=1 when there is no GPU
import pytest
import torch
import triton
import triton.language as tl
from _triton_env import DEVICE

import sj.neuron.builtin  # noqa: F401
from sj.ops import MultiStepSpec
from sj.triton import tlmath
from sj.triton.kernels import module_source, signature
from sj.triton.printer import TritonPrinter, unsupported_ops


def test_printer_spellings():
    pr = TritonPrinter()
    assert pr.expr(["+", "v", ["neg", "x"]]) == "((q_v) + ((-(q_x))))"
    assert pr.expr(["heaviside", "z"]) == "((q_z) >= 0).to(CDT)"
    assert pr.expr(["where", ["<", "z", 0], 0, 1]) == ("tl.where(((q_z) < (0.0)), tl.full([BLOCK], 0.0, CDT), "
                                                       "tl.full([BLOCK], 1.0, CDT))")
    assert pr.expr(["pow", "a", 2]) == "((q_a) * (q_a))"
    assert pr.expr(["pow", "a", -1]) == "(1.0 / ((q_a)))"
    assert pr.expr(["pow", "a", "b"]) == "tl.exp((q_b) * tl.log(q_a))"
    assert pr.expr(["atan", "a"]) == "sj_atan(q_a)"
    assert "propagate_nan" in pr.expr(["max", "a", "b"])
    assert TritonPrinter(rename={"h": "prev_h"}).expr(["*", "h", "s"]) == "((prev_h) * (q_s))"


def test_unknown_operation_is_refused():
    with pytest.raises(ValueError, match="no spelling"):
        TritonPrinter().expr(["gamma", "x"])
    assert unsupported_ops([["+", ["gamma", "x"], ["exp", "y"]]]) == {"gamma"}


def test_time_loop_is_a_runtime_loop():
    spec = MultiStepSpec("izhikevich", "ATan", (2.0,), False, False, True)
    sig = signature(spec.program, spec.surrogate_program)
    src = module_source(spec.program, spec.surrogate_program, "h")
    assert src.count("for _ in range(T):") == 1 and src.count("for i in range(T):") == 1
    assert "static_range" not in src
    fwd, bwd = dict(sig.forward_args()), dict(sig.backward_args())
    assert fwd["T"] == "i32" and fwd["N"] == "i32" and fwd["SAVE"] == "constexpr" and fwd["FULL_tau"] == "constexpr"
    assert bwd["LAST"] == "i64" and bwd["arg_sp_alpha"] == "float" and bwd["HAS_GLAST_w"] == "constexpr"
    assert sig.aux == ("w",) and fwd["seq_w"] == "ptr" and bwd["gpar_tau_w"] == "ptr"
    for args in (sig.forward_args(), sig.backward_args()):  # runtime arguments first, compile-time flags last
        kinds = [k for _, k in args]
        assert kinds.index("constexpr") == len(kinds) - kinds.count("constexpr")


def test_names_cannot_collide_with_kernel_names():
    from sj.neuron.declaration import declare

    declare("sj_triton_test_clash", "v + (x - v) / mask + N * 0 + offs * 0", params=("mask", "N", "offs"))
    spec = MultiStepSpec("sj_triton_test_clash", "ATan", (2.0,), False, False, False)
    src = module_source(spec.program, spec.surrogate_program, "h")
    assert "q_mask" in src and "q_N" in src and "q_offs" in src
    compile(src, "<generated>", "exec")


@triton.jit
def _apply(x_ptr, out_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    if FN == 0:
        y = sj_atan(x)  # noqa: F821 - bound below
    else:
        y = sj_tanh(x)  # noqa: F821
    tl.store(out_ptr + offs, y, mask=m)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_atan_tanh_accuracy(dtype):
    interpret = not DEVICE.startswith("cuda")
    _apply.fn.__globals__.update(tlmath.functions(interpret))
    x = torch.cat([torch.linspace(-30, 30, 2001, dtype=dtype), torch.tensor([0.0, 1e-8, -1e-6, 1e-3, 0.4142, 1.0,
                                                                            -1.0, 1e6, -1e30], dtype=dtype)])
    x = x.to(DEVICE)
    for fn, ref in ((0, torch.atan), (1, torch.tanh)):
        out = torch.empty_like(x)
        _apply[(triton.cdiv(x.numel(), 1024),)](x, out, x.numel(), FN=fn, BLOCK=1024)
        tol = 1e-6 if dtype == torch.float32 else 1e-14
        torch.testing.assert_close(out, ref(x), rtol=tol, atol=tol)
