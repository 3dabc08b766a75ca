"""Move loop-invariant work out of the time loop: bindings that read only parameters, and reciprocals of divisors.

A step body is evaluated ``T`` times per neuron, but parts of it depend only on the neuron's parameters (LIF's
``1 / tau`` in backward) and many divisions divide by a parameter (LIF's ``(x - (v - v_reset)) / tau``): an IEEE
division costs a dozen instructions and a slow path. :func:`hoist` returns the bindings to compute once per neuron
before the loop, and the loop's bindings and outputs with every division by a loop-invariant expression replaced by
a multiplication with its reciprocal (computed once), and a division by a literal by a multiplication with the
literal's reciprocal. That changes a quotient by at most a rounding step (far inside the conformance tolerances);
divisions by values that change every step are left as they are.
"""

from __future__ import annotations

from sj.codegen.ir import Expr, symbols_of

Binding = tuple[str, Expr]


def _is_number(e: Expr) -> bool:
    return isinstance(e, (int, float)) and not isinstance(e, bool)


class _Hoister:
    def __init__(self, invariant: set[str], prefix: str) -> None:
        self.invariant = set(invariant)
        self.prefix = prefix
        self.hoisted: list[Binding] = []
        self.reciprocals: dict[str, str] = {}  # repr of a divisor -> name of its reciprocal

    def loop_invariant(self, e: Expr) -> bool:
        return symbols_of(e) <= self.invariant

    def rewrite(self, e: Expr) -> Expr:
        if not isinstance(e, list):
            return e
        op, args = e[0], [self.rewrite(a) for a in e[1:]]
        if op == "/":
            a, b = args
            if _is_number(b) and b != 0:
                return ["*", a, 1.0 / b]
            if not _is_number(b) and self.loop_invariant(b):
                return ["*", a, self.reciprocal(b)]
        return [op, *args]

    def reciprocal(self, b: Expr) -> str:
        key = repr(b)
        if key not in self.reciprocals:
            name = f"{self.prefix}{len(self.reciprocals)}"
            self.hoisted.append((name, ["/", 1, b]))
            self.invariant.add(name)
            self.reciprocals[key] = name
        return self.reciprocals[key]


def hoist(program: list, outputs: list[Expr], invariant: set[str], prefix: str = "rcp"
          ) -> tuple[list[Binding], list[Binding], list[Expr]]:
    """``(before_loop, loop, outputs)`` for ``program`` (bindings ``[name, expr]``) and its ``outputs``, where
    ``invariant`` names the symbols fixed for the whole loop (parameters). ``before_loop`` bindings read only those
    and each other; ``prefix`` names the reciprocals it introduces (must not clash with the program's names)."""
    h = _Hoister(invariant, prefix)
    loop: list[Binding] = []
    for name, e in program:
        if h.loop_invariant(e):  # computed once: exact division kept
            h.hoisted.append((name, e))
            h.invariant.add(name)
        else:
            loop.append((name, h.rewrite(e)))
    return h.hoisted, loop, [h.rewrite(o) for o in outputs]
