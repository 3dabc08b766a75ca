"""Print sj's expression IR (:mod:`sj.codegen.ir`) as Triton expressions over ``[BLOCK]`` tensors.

Every IR symbol is printed as ``q_<name>`` so that no user parameter or state name (``mask``, ``N``, ``tl``...) can
collide with a name of the generated kernel; kernel-internal names never start with ``q_``. ``rename`` maps chosen
IR symbols to other kernel names instead (used to evaluate the reset on the previous step's ``h``).

Arithmetic runs in the kernel's compute dtype ``CDT`` (a ``tl.constexpr``: fp32, or fp64 for float64 tensors).
Python literals combined with a tensor take that tensor's dtype exactly; a ``where`` whose branches are both
literals would be fp32, so its branches are built with ``tl.full`` in ``CDT``.
"""

from __future__ import annotations

from sj.codegen.ir import Expr
from sj.codegen.printer import Printer

# IR function -> Triton spelling. atan/tanh come from sj.triton.tlmath (libdevice on GPUs, formulas from exp/log
# under the interpreter, which has no libdevice).
_FUNCS = {"exp": "tl.exp", "log": "tl.log", "sqrt": "tl.sqrt", "abs": "tl.abs", "erf": "tl.math.erf",
          "atan": "sj_atan", "tanh": "sj_tanh"}
SUPPORTED_OPS = frozenset({"+", "*", "/", "neg", "pow", "<", "<=", ">", ">=", "and", "or", "where", "heaviside",
                           "max", "min", "sign", *_FUNCS})


def _is_number(e: Expr) -> bool:
    return isinstance(e, (int, float)) and not isinstance(e, bool)


class TritonPrinter(Printer):
    """Triton spelling of the IR; see the module docstring for naming and dtype rules."""

    and_op = "&"
    or_op = "|"

    def __init__(self, rename: dict[str, str] | None = None, compute_dtype: str = "CDT",
                 block: str = "BLOCK") -> None:
        self.rename = dict(rename or {})
        self.cdt = compute_dtype
        self.block = block

    def symbol(self, name: str) -> str:
        return self.rename.get(name, "q_" + name)

    def number(self, value: float) -> str:
        text = repr(float(value))
        return {"inf": "float('inf')", "-inf": "float('-inf')", "nan": "float('nan')"}.get(text, text)

    def full(self, value: float) -> str:
        """A ``[BLOCK]`` tensor of ``value`` in the compute dtype (exact for fp64)."""
        return f"tl.full([{self.block}], {self.number(value)}, {self.cdt})"

    def expr(self, e: Expr) -> str:
        if isinstance(e, list) and e[0] == "where" and _is_number(e[2]) and _is_number(e[3]):
            return f"tl.where({self.expr(e[1])}, {self.full(e[2])}, {self.full(e[3])})"
        if isinstance(e, list) and e[0] in ("max", "min"):
            fn = "tl.maximum" if e[0] == "max" else "tl.minimum"
            a, b = e[1], e[2]
            if _is_number(a) and _is_number(b):
                return self.full(max(a, b) if e[0] == "max" else min(a, b))
            return f"{fn}({self.expr(a)}, {self.expr(b)}, propagate_nan=tl.PropagateNan.ALL)"
        if isinstance(e, list) and e[0] == "sign":
            a = self.expr(e[1])
            return f"((({a}) > 0).to({self.cdt}) - (({a}) < 0).to({self.cdt}))"
        if isinstance(e, list) and e[0] not in SUPPORTED_OPS:
            raise ValueError(f"the Triton printer has no spelling for IR operation {e[0]!r}")
        return super().expr(e)

    def where(self, cond: str, a: str, b: str) -> str:
        return f"tl.where({cond}, {a}, {b})"

    def heaviside(self, a: str) -> str:
        return f"(({a}) >= 0).to({self.cdt})"

    def power(self, base: str, exponent: Expr) -> str:
        if _is_number(exponent) and float(exponent).is_integer() and abs(exponent) <= 8:
            n = int(exponent)
            if n == 0:
                return self.full(1.0)
            prod = "(" + " * ".join([f"({base})"] * abs(n)) + ")"
            return prod if n > 0 else f"(1.0 / {prod})"
        if _is_number(exponent) and float(exponent) == 0.5:
            return f"tl.sqrt({base})"
        # general power: defined for a positive base (as for a non-integer exponent in torch)
        return f"tl.exp(({self.expr(exponent)}) * tl.log({base}))"

    def function_name(self, op: str) -> str:
        try:
            return _FUNCS[op]
        except KeyError:
            raise ValueError(f"the Triton printer has no spelling for IR function {op!r}") from None

    def bindings(self, program: list, indent: str) -> list[str]:
        """One ``q_name = expr`` line per binding of ``program``."""
        return [f"{indent}{self.symbol(name)} = {self.expr(expr)}" for name, expr in program]


def unsupported_ops(exprs: list[Expr]) -> set[str]:
    """IR operations in ``exprs`` that :class:`TritonPrinter` cannot print (empty when all are supported)."""
    bad: set[str] = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        if isinstance(e, list):
            if e[0] not in SUPPORTED_OPS and e[0] != "surrogate":
                bad.add(str(e[0]))
            stack.extend(e[1:])
    return bad
