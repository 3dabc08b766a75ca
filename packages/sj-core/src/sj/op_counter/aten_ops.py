"""Groups of ATen operator overloads the counters give the same rule."""

from __future__ import annotations

import torch

aten = torch.ops.aten


def _overloads(*names: str) -> tuple:
    """``aten.<op>.<overload>`` objects for ``"op.overload"`` names (absent ones skipped: older torch)."""
    found = []
    for name in names:
        op, overload = name.split(".")
        packet = getattr(aten, op, None)
        if packet is not None and hasattr(packet, overload):
            found.append(getattr(packet, overload))
    return tuple(found)


ADD_SUB = _overloads("add.Tensor", "add_.Tensor", "add.Scalar", "add_.Scalar", "sub.Tensor", "sub_.Tensor",
                     "sub.Scalar", "sub_.Scalar", "rsub.Tensor", "rsub.Scalar")
MUL_DIV = _overloads("mul.Tensor", "mul_.Tensor", "mul.Scalar", "mul_.Scalar", "div.Tensor", "div_.Tensor",
                     "div.Scalar", "div_.Scalar")
NEG = _overloads("neg.default", "neg_.default")
COMPARE = _overloads("eq.Tensor", "eq.Scalar", "ne.Tensor", "ne.Scalar", "lt.Tensor", "lt.Scalar", "le.Tensor",
                     "le.Scalar", "gt.Tensor", "gt.Scalar", "ge.Tensor", "ge.Scalar")
LOGICAL = _overloads("logical_and.default", "logical_or.default", "logical_xor.default", "logical_not.default")
SIGMOID = _overloads("sigmoid.default", "sigmoid_.default")
SUM = _overloads("sum.default", "sum.dim_IntList")
# operators that move or alias data without arithmetic
VIEWS = _overloads("view.default", "unsqueeze.default", "squeeze.dim", "unbind.int", "empty.memory_format",
                   "select.int", "detach.default", "t.default", "expand.default")
FILLS = _overloads("full_like.default", "ones_like.default")
SDPA = _overloads("_scaled_dot_product_flash_attention_for_cpu.default", "_scaled_dot_product_flash_attention.default",
                  "_scaled_dot_product_efficient_attention.default", "_scaled_dot_product_cudnn_attention.default")
# backward of the SDPA kernels, with the position of their attention bias argument (None: no bias)
SDPA_BACKWARD = tuple((op, bias) for name, bias in (
    ("_scaled_dot_product_flash_attention_for_cpu_backward.default", None),
    ("_scaled_dot_product_flash_attention_backward.default", None),
    ("_scaled_dot_product_efficient_attention_backward.default", 4),
    ("_scaled_dot_product_cudnn_attention_backward.default", 8)) for op in _overloads(name))
