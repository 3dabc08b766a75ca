"""Transcendental functions the Triton language lacks in a form that works both compiled and interpreted.

``atan`` and ``tanh`` exist only as ``libdevice`` externs, which Triton's interpreter (``TRITON_INTERPRET=1``)
cannot call. Compiled kernels use libdevice (correctly rounded to a few ulp in fp32 and fp64); interpreted kernels
use the formulas below, built from ``exp``/``log``/``sqrt`` (which the interpreter evaluates with numpy):

- ``tanh(x) = sign(x)·e/(e + 2)`` with ``e = expm1(2|x|)``, ``expm1`` by Kahan's ``(y − 1)·u/log(y)`` trick
  (full precision near 0, where ``1 − 2/(exp(2x) + 1)`` would cancel; ``|x|`` clamped to 20);
- ``atan(x)``: ``atan(1/|x|)`` reflection above 1, two half-angle reductions
  ``atan(r) = 2·atan(r/(1 + √(1 + r²)))`` down to ``r ≤ tan(π/16)``, then the Taylor series to ``r²³``
  (truncation below 1e-18).

:func:`functions` returns the pair for the mode; the kernel loader binds them as ``sj_atan``/``sj_tanh`` in every
generated module.
"""

from __future__ import annotations

import triton
import triton.language as tl

_HALF_PI = tl.constexpr(1.5707963267948966)


def _tanh(x):
    a = tl.abs(x)
    a = tl.where(a > 20.0, 20.0, a)  # tanh(20) rounds to 1 in fp64; keeps exp finite; NaN passes through
    u = 2.0 * a
    y = tl.exp(u)
    ym1 = y - 1.0
    e = tl.where(ym1 == 0.0, u, ym1 * u / tl.log(y))  # expm1(u), Kahan
    t = e / (e + 2.0)
    return tl.where(x < 0, -t, t)


def _atan(x):
    a = tl.abs(x)
    inv = a > 1.0
    r = tl.where(inv, 1.0 / tl.where(inv, a, 1.0), a)
    r = r / (1.0 + tl.sqrt(1.0 + r * r))
    r = r / (1.0 + tl.sqrt(1.0 + r * r))
    r2 = r * r
    p = -1.0 / 23.0
    p = p * r2 + 1.0 / 21.0
    p = p * r2 - 1.0 / 19.0
    p = p * r2 + 1.0 / 17.0
    p = p * r2 - 1.0 / 15.0
    p = p * r2 + 1.0 / 13.0
    p = p * r2 - 1.0 / 11.0
    p = p * r2 + 1.0 / 9.0
    p = p * r2 - 1.0 / 7.0
    p = p * r2 + 1.0 / 5.0
    p = p * r2 - 1.0 / 3.0
    p = p * r2 + 1.0
    res = 4.0 * r * p
    res = tl.where(inv, _HALF_PI - res, res)
    return tl.where(x < 0, -res, res)


_portable: dict[str, object] = {}


def functions(interpret: bool) -> dict[str, object]:
    """``{"sj_atan": ..., "sj_tanh": ...}`` for interpreted (portable formulas) or compiled (libdevice) kernels."""
    if interpret:
        if not _portable:  # decorated on first use, so triton.jit sees the interpreter mode
            _portable.update(sj_atan=triton.jit(_atan), sj_tanh=triton.jit(_tanh))
        return dict(_portable)
    from triton.language.extra import libdevice

    return {"sj_atan": libdevice.atan, "sj_tanh": libdevice.tanh}
