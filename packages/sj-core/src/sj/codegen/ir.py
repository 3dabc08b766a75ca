"""The expression IR: JSON-able nested lists produced from sympy and consumed by printers.

An expression is a number (int/float), a symbol name (str) or ``[op, *args]`` with ``op`` one of:

- arithmetic: ``+`` (n-ary), ``*`` (n-ary), ``/`` (a, b), ``neg`` (a), ``pow`` (a, number)
- functions: ``exp log atan tanh erf abs sign sqrt`` (a), ``max``/``min`` (a, b)
- logic: ``< <= > >=`` (a, b), ``and``/``or`` (a, b), ``where`` (cond, a, b)
- ``heaviside`` (z): 1 where ``z >= 0`` else 0 (the spike)
- ``surrogate`` (z): the surrogate derivative at ``z`` (printers expand the surrogate's own program)

A *program* is a list of ``[name, expr]`` bindings evaluated in order (static single assignment).
"""

from __future__ import annotations

from typing import Union

Expr = Union[int, float, str, list]  # noqa: UP007 - a runtime alias, not an annotation
Program = list  # list[[name, Expr]]

UNARY = ("exp", "log", "atan", "tanh", "erf", "abs", "sign", "sqrt", "neg", "heaviside", "surrogate")
BINARY = ("/", "pow", "max", "min", "<", "<=", ">", ">=", "and", "or")
NARY = ("+", "*")
OPERATORS = frozenset((*UNARY, *BINARY, *NARY, "where"))


def symbols_of(expr: Expr) -> set[str]:
    """The symbol names an expression reads."""
    if isinstance(expr, str):
        return {expr}
    if isinstance(expr, list):
        out: set[str] = set()
        for a in expr[1:]:
            out |= symbols_of(a)
        return out
    return set()


def program_reads(program: Program, outputs: list[Expr]) -> set[str]:
    """Free symbols of a program and its outputs (names read before or without being bound)."""
    bound: set[str] = set()
    free: set[str] = set()
    for name, expr in program:
        free |= symbols_of(expr) - bound
        bound.add(name)
    for expr in outputs:
        free |= symbols_of(expr) - bound
    return free


def prune(program: Program, outputs: list[Expr]) -> Program:
    """The bindings of ``program`` that ``outputs`` depend on, in order (what a generator prints when it needs only
    those outputs: no unused variables, no work for results nobody asked for)."""
    need: set[str] = set()
    for e in outputs:
        need |= symbols_of(e)
    kept = []
    for name, expr in reversed(program):
        if name in need:
            kept.append([name, expr])
            need |= symbols_of(expr)
    return kept[::-1]


def rename(expr: Expr, mapping: dict[str, Expr]) -> Expr:
    """Substitute symbols by expressions (or other names)."""
    if isinstance(expr, str):
        return mapping.get(expr, expr)
    if isinstance(expr, list):
        return [expr[0], *(rename(a, mapping) for a in expr[1:])]
    return expr


def inline_surrogate(program: Program, surrogate: dict, prefix: str = "sgc") -> Program:
    """Replace every ``[name, ["surrogate", arg]]`` binding by the surrogate derivative's bindings.

    ``surrogate`` is a derived surrogate (``derivative`` bindings over ``z`` and ``derivative_out``); its bindings
    are renamed with ``prefix`` so they cannot clash with the neuron's.
    """
    out: Program = []
    for name, expr in program:
        if isinstance(expr, list) and expr[0] == "surrogate":
            mapping: dict[str, Expr] = {"z": expr[1]}
            for sname, sexpr in surrogate["derivative"]:
                new = f"{prefix}_{sname}"
                out.append([new, rename(sexpr, mapping)])
                mapping[sname] = new
            out.append([name, rename(surrogate["derivative_out"], mapping)])
        else:
            out.append([name, expr])
    return out
