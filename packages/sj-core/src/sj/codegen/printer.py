"""The printer base: turns IR expressions into source text of a target language.

Subclasses set the operator spellings; precedence is handled by parenthesising every compound operand, which is
always correct and leaves layout to the target compiler. A printer prints only IR: a symbol that is not an identifier
or an unknown operator raises ``ValueError`` instead of reaching the generated text (programs read from files are
validated as a whole first, :mod:`sj.codegen.validate`).
"""

from __future__ import annotations

from sj.codegen.ir import OPERATORS, Expr


def _checked_name(name: object) -> str:
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"{str(name)[:40]!r} is not an IR symbol (an identifier)")
    return name


class Printer:
    """Print IR expressions. Override :meth:`number`, :meth:`call`, :meth:`where`, :meth:`heaviside` and the
    logic spellings for a new language."""

    and_op = "&&"
    or_op = "||"

    def number(self, value: float) -> str:
        return repr(float(value))

    def symbol(self, name: str) -> str:
        return name

    def call(self, fn: str, args: list[str]) -> str:
        return f"{fn}({', '.join(args)})"

    def where(self, cond: str, a: str, b: str) -> str:
        return f"(({cond}) ? ({a}) : ({b}))"

    def heaviside(self, a: str) -> str:
        return f"(({a}) >= 0 ? 1 : 0)"

    def power(self, base: str, exponent: Expr) -> str:
        if isinstance(exponent, int) and 0 < exponent <= 4:
            return "(" + " * ".join([f"({base})"] * exponent) + ")"
        return self.call("pow", [base, self.expr(exponent)])

    def expr(self, e: Expr) -> str:
        if isinstance(e, bool):
            return self.number(float(e))
        if isinstance(e, (int, float)):
            return self.number(e)
        if isinstance(e, str):
            return self.symbol(_checked_name(e))
        if not isinstance(e, list) or not e or e[0] not in OPERATORS:
            raise ValueError(f"{str(e)[:60]!r} is not an IR expression")
        op, args = e[0], e[1:]
        p = [self.expr(a) for a in args] if op != "pow" else [self.expr(args[0])]
        if op in ("+", "*"):
            return "(" + f" {op} ".join(f"({a})" for a in p) + ")"
        if op == "/":
            return f"(({p[0]}) / ({p[1]}))"
        if op == "neg":
            return f"(-({p[0]}))"
        if op == "pow":
            return self.power(p[0], args[1])
        if op in ("<", "<=", ">", ">="):
            return f"(({p[0]}) {op} ({p[1]}))"
        if op == "and":
            return f"(({p[0]}) {self.and_op} ({p[1]}))"
        if op == "or":
            return f"(({p[0]}) {self.or_op} ({p[1]}))"
        if op == "where":
            return self.where(*p)
        if op == "heaviside":
            return self.heaviside(p[0])
        if op == "surrogate":
            raise ValueError("inline the surrogate (sj.codegen.ir.inline_surrogate) before printing")
        return self.call(self.function_name(op), p)

    def function_name(self, op: str) -> str:
        """Name of the target function for IR function ``op`` (exp, log, atan, tanh, erf, abs, sign, sqrt,
        max, min)."""
        return op

    def assignments(self, program: list, template: str = "{name} = {expr}", indent: str = "    ") -> list[str]:
        """One line per binding of ``program``, formatted with ``template`` (e.g. ``"const float {name} = {expr};"``
        for C)."""
        return [indent + template.format(name=_checked_name(name), expr=self.expr(expr)) for name, expr in program]
