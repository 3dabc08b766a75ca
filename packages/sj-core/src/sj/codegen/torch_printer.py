"""Print IR as PyTorch expressions (the reference backend and single-step mode run this code)."""

from __future__ import annotations

from sj.codegen.ir import symbols_of
from sj.codegen.printer import Printer

_TORCH = {"exp": "torch.exp", "log": "torch.log", "atan": "torch.atan", "tanh": "torch.tanh", "erf": "torch.erf",
          "abs": "torch.abs", "sign": "torch.sign", "sqrt": "torch.sqrt", "max": "torch.maximum",
          "min": "torch.minimum"}


class TorchPrinter(Printer):
    """Every symbol is a tensor (parameters are 0-d or full tensors), so torch functions apply throughout."""

    and_op = "&"
    or_op = "|"

    def expr(self, e):
        if isinstance(e, list) and e[0] == "where":
            ref = sorted(symbols_of(e[1]))[0]  # a tensor of the right dtype: two literal branches need one
            return f"_where({self.expr(e[1])}, {self.expr(e[2])}, {self.expr(e[3])}, {ref})"
        if isinstance(e, list) and e[0] == "+" and any(_negated(a) for a in e[1:]):
            return self._difference(e[1:])
        return super().expr(e)

    def _difference(self, terms: list) -> str:
        """A sum with negated terms as subtractions: ``a + (-b)`` costs torch two ops (a negation, an addition), ``a -
        b`` one, with the same result (negation is exact; a negated first term swaps with the first plain one, and
        IEEE addition is commutative)."""
        first = next((k for k, a in enumerate(terms) if not _negated(a)), None)
        if first is None:  # every term negated: -(a + b + ...)
            return f"(-({self.expr(['+', *(a[1] for a in terms)]) if len(terms) > 1 else self.expr(terms[0][1])}))"
        ordered = [terms[first], *terms[:first], *terms[first + 1:]] if first < 2 else terms
        text = f"({self.expr(ordered[0])})"
        for a in ordered[1:]:
            text = f"({text} - ({self.expr(a[1])}))" if _negated(a) else f"({text} + ({self.expr(a)}))"
        return text

    def heaviside(self, a: str) -> str:
        return f"_heaviside({a})"

    def power(self, base: str, exponent) -> str:
        return f"(({base}) ** ({self.expr(exponent)}))"

    def function_name(self, op: str) -> str:
        return _TORCH[op]


def _negated(e) -> bool:
    return isinstance(e, list) and e[0] == "neg"


def _heaviside(z):
    """1 where ``z >= 0`` else 0 (NaN: 0), in ``z``'s dtype (SpikingJelly's convention at exactly 0).

    The comparison writes its float result directly: a bool tensor cast afterwards takes about four times as long on
    a CPU (two passes, one of them a conversion). functorch's vmap has no batching rule for a comparison with
    ``out=``, so batched tensors take the cast."""
    import torch

    try:
        return torch.ge(z, 0, out=torch.empty_like(z))
    except RuntimeError:
        return (z >= 0).to(z.dtype)


def _where(cond, a, b, ref):
    """``torch.where`` whose literal branches take ``ref``'s dtype (torch would give them the default dtype)."""
    import torch

    if not isinstance(a, torch.Tensor):
        a = torch.as_tensor(a, dtype=ref.dtype, device=ref.device)
    return torch.where(cond, a, b)


def compile_source(source: str, name: str, extra: dict | None = None) -> dict:
    """Execute generated Python ``source`` and return its namespace (functions defined there); ``extra`` overrides
    helpers of the namespace (e.g. ``_heaviside``)."""
    import torch

    namespace: dict = {"torch": torch, "_heaviside": _heaviside, "_where": _where, **(extra or {})}
    exec(compile(source, f"<sj generated: {name}>", "exec"), namespace)
    return namespace
