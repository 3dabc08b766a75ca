"""Print IR as C expressions (C99 / CUDA C) in ``float`` or ``double`` arithmetic.

Kernels for half-precision inputs load into ``float`` and compute with this printer's float flavour.
"""

from __future__ import annotations

from sj.codegen.printer import Printer

_F32 = {"exp": "expf", "log": "logf", "atan": "atanf", "tanh": "tanhf", "erf": "erff", "abs": "fabsf",
        "sqrt": "sqrtf", "max": "fmaxf", "min": "fminf", "pow": "powf"}
_F64 = {"exp": "exp", "log": "log", "atan": "atan", "tanh": "tanh", "erf": "erf", "abs": "fabs", "sqrt": "sqrt",
        "max": "fmax", "min": "fmin", "pow": "pow"}


class CPrinter(Printer):
    """``scalar`` is ``"float"`` or ``"double"``; literals and math functions follow it."""

    def __init__(self, scalar: str = "float") -> None:
        if scalar not in ("float", "double"):
            raise ValueError(f"scalar must be 'float' or 'double', got {scalar!r}")
        self.scalar = scalar
        self.funcs = _F32 if scalar == "float" else _F64

    def number(self, value: float) -> str:
        text = repr(float(value))
        if text in ("inf", "-inf", "nan"):
            return {"inf": "INFINITY", "-inf": "(-INFINITY)", "nan": "NAN"}[text]
        return f"{text}f" if self.scalar == "float" else text

    def where(self, cond: str, a: str, b: str) -> str:
        return f"(({cond}) ? ({a}) : ({b}))"

    def heaviside(self, a: str) -> str:
        one, zero = self.number(1.0), self.number(0.0)
        return f"(({a}) >= {zero} ? {one} : {zero})"

    def power(self, base: str, exponent) -> str:
        if isinstance(exponent, int) and 0 < exponent <= 4:
            return super().power(base, exponent)
        return f"{self.funcs['pow']}({base}, {self.expr(exponent)})"

    def function_name(self, op: str) -> str:
        if op == "sign":
            return "sj_sign_" + self.scalar
        return self.funcs[op]

    def prelude(self) -> str:
        """Helper definitions the printed code may call (``sj_sign_*``); emit once per translation unit."""
        t = self.scalar
        return (f"static inline {t} sj_sign_{t}({t} a) {{ return ({t})((a > ({t})0) - (a < ({t})0)); }}\n")
