"""Fewer passes over the neurons: gather the invariant factors of every product before the per-element ones.

The ``torch`` reference evaluates a step as whole-tensor operations, left to right, so each operator that has a
per-element operand is a pass over all neurons. In ATan's derivative, ``α / ((1 + 9.87·α²·z²/4) · 2)``, six
operators touch ``z``; with the invariant factors (numbers, parameters, surrogate parameters and names bound only to
them) gathered first, ``(α/2) / (1 + (9.87·α²/4)·z²)`` makes four passes. A rewrite is kept only where it saves
passes, so results change only where it pays, and then only by the rounding of the reassociated factors.
"""

from __future__ import annotations

from sj.codegen.ir import Expr, Program


def is_invariant(e: Expr, invariant: set[str]) -> bool:
    """Whether ``e`` reads only numbers and names in ``invariant``."""
    if isinstance(e, (int, float)):
        return True
    if isinstance(e, str):
        return e in invariant
    return all(is_invariant(a, invariant) for a in (e[1:2] if e[0] == "pow" else e[1:]))


def passes(e: Expr, invariant: set[str]) -> int:
    """Operators of ``e`` with a per-element operand, evaluated left to right (an n-ary sum or product of invariant
    leading terms combines those first)."""
    if not isinstance(e, list):
        return 0
    args = e[1:2] if e[0] == "pow" else e[1:]
    own = (sum(not all(is_invariant(a, invariant) for a in args[:i + 1]) for i in range(1, len(args)))
           if e[0] in ("+", "*") else int(not is_invariant(e, invariant)))
    return own + sum(passes(a, invariant) for a in args)


def _factors(e: Expr, num: list, den: list) -> None:
    if isinstance(e, list) and e[0] == "*":
        for a in e[1:]:
            _factors(a, num, den)
    elif isinstance(e, list) and e[0] == "/":
        _factors(e[1], num, den)
        _factors(e[2], den, num)
    else:
        num.append(e)


def _product(factors: list) -> Expr:
    return factors[0] if len(factors) == 1 else ["*", *factors]


def fold(e: Expr, invariant: set[str]) -> Expr:
    """``e`` with each product and quotient rewritten as (invariant coefficient) · per-element factors / per-element
    divisors, where that makes fewer :func:`passes`."""
    if not isinstance(e, list):
        return e
    e = [e[0], fold(e[1], invariant), *e[2:]] if e[0] == "pow" else [e[0], *(fold(a, invariant) for a in e[1:])]
    if e[0] not in ("*", "/"):
        return e
    num: list = []
    den: list = []
    _factors(e, num, den)
    inv_num = [f for f in num if is_invariant(f, invariant)]
    inv_den = [f for f in den if is_invariant(f, invariant)]
    var_num = [f for f in num if not is_invariant(f, invariant)]
    var_den = [f for f in den if not is_invariant(f, invariant)]
    top = _product(inv_num) if inv_num else 1.0
    coefficient = ["/", top, _product(inv_den)] if inv_den else (top if inv_num else None)
    numerator = _product([coefficient, *var_num] if coefficient is not None else var_num) if (
        coefficient is not None or var_num) else 1.0
    candidate = ["/", numerator, _product(var_den)] if var_den else numerator
    return candidate if passes(candidate, invariant) < passes(e, invariant) else e


def fold_program(program: Program, invariant: set[str]) -> tuple[Program, set[str]]:
    """:func:`fold` over every binding; returns the program and the invariant names, extended by the bindings that
    read only invariant names."""
    invariant = set(invariant)
    out = []
    for name, expr in program:
        folded = fold(expr, invariant)
        out.append([name, folded])
        if is_invariant(folded, invariant):
            invariant.add(name)
    return out, invariant
