"""Surrogate spike functions (SpikingJelly-compatible names and defaults).

Each module maps ``z = h − v_threshold`` to a spike Θ(z) (1 where z ≥ 0) in forward and uses the surrogate derivative
in backward (``spiking=True``), or applies the smooth primitive (``spiking=False``). The formulas are declared once in
:mod:`sj.surrogate.declarations`; this module, the reference backend and every kernel backend are generated from them.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch.autograd import forward_ad

from sj.codegen.torch_printer import TorchPrinter, compile_source
from sj.surrogate.declarations import BUILTIN_SURROGATES, SurrogateDecl, surrogates

__all__ = ["BUILTIN_SURROGATES", "SurrogateDecl", "SurrogateFunction", "heaviside", "torch_functions",
           *BUILTIN_SURROGATES]

_compiled: dict[str, dict] = {}


def torch_functions(name: str) -> dict:
    """Generated torch functions of surrogate ``name``: ``derivative(z, *params)`` and, if declared,
    ``primitive(z, *params)`` (params as tensors or floats broadcastable with ``z``)."""
    found = _compiled.get(name)  # no lock on the hit path: torch.compile traces it
    if found is not None:
        return found
    from sj.neuron.derived import surrogate_program  # here: sj.neuron imports this module

    prog = surrogate_program(name)
    pr = TorchPrinter()
    args = ", ".join(["z", *prog["params"]])
    lines = [f"def derivative({args}):"]
    lines += [f"    {n} = {pr.expr(e)}" for n, e in prog["derivative"]]
    lines.append(f"    return {pr.expr(prog['derivative_out'])}")
    if prog["primitive"] is not None:
        lines += [f"def primitive({args}):", f"    return {pr.expr(prog['primitive'])}"]
    fns = compile_source("\n".join(lines) + "\n", f"surrogate {name}")
    return _compiled.setdefault(name, fns)  # atomic; a race only generates twice


def heaviside(z: torch.Tensor) -> torch.Tensor:
    """Θ(z): 1 where ``z >= 0`` else 0, in ``z``'s dtype."""
    return (z >= 0).to(z.dtype)


class _SpikeFn(torch.autograd.Function):
    """Θ(z) forward, declared surrogate derivative backward."""

    @staticmethod
    def forward(z: torch.Tensor, name: str, params: tuple[float, ...]) -> torch.Tensor:
        return heaviside(z)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        z, name, params = inputs
        ctx.save_for_backward(z)
        ctx.name, ctx.params = name, params

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        params = [torch.as_tensor(p, dtype=z.dtype, device=z.device) for p in ctx.params]
        return grad * torch_functions(ctx.name)["derivative"](z, *params), None, None


# torch's Function.apply binds the arguments with inspect.signature on every call of a Function that defines
# setup_context (about a third of a single-step neuron's time, benchmarks/bench_core_single_step.py); outside functorch
# transforms it then calls this C entry, which is called directly instead (forward has no defaults to bind).
_spike_apply = super(torch.autograd.Function, _SpikeFn).apply


def _spike(z: torch.Tensor, name: str, params: tuple[float, ...]) -> torch.Tensor:
    """Θ(z) with the surrogate ``name``'s derivative in backward: through :class:`_SpikeFn` where a gradient or a
    transform may need it, else the step alone."""
    if (torch.compiler.is_compiling() or torch._C._are_functorch_transforms_active()
            or forward_ad._current_level >= 0):
        return _SpikeFn.apply(z, name, params)  # Dynamo, functorch and forward-mode AD go through torch's own path
    if torch.is_grad_enabled() and z.requires_grad:
        return _spike_apply(z, name, params)
    return heaviside(z)  # nothing records it: no autograd node (a quarter of the time)


class SurrogateFunction(torch.nn.Module):
    """Base of all surrogate modules.

    Args:
        spiking: ``True`` → Θ forward with surrogate backward; ``False`` → the smooth primitive forward.
        **params: the declaration's parameters (floats).

    Subclasses set ``decl_name`` and ``bounds`` (parameter → exclusive lower bound) and expose SpikingJelly's
    constructor signature.
    """

    decl_name: str = ""
    bounds: ClassVar[dict[str, float]] = {}

    def __init__(self, spiking: bool = True, **params: float) -> None:
        super().__init__()
        decl = surrogates.get(self.decl_name or type(self).__name__)
        self.decl = decl
        values = []
        for p in decl.params:
            v = params[p]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{type(self).__name__}: {p} must be a finite number, got {v!r}")
            if p in self.bounds and not v > self.bounds[p]:
                raise ValueError(f"{type(self).__name__}: {p} must be > {self.bounds[p]}, got {v}")
            values.append(float(v))
            setattr(self, p, float(v))
        self.spiking = bool(spiking)
        if not self.spiking and decl.primitive is None:
            raise ValueError(f"{type(self).__name__} has no primitive function; use spiking=True")

    @property
    def name(self) -> str:
        """Declaration name (what backends receive)."""
        return self.decl.name

    @property
    def param_values(self) -> tuple[float, ...]:
        """Current parameter values in declaration order."""
        # Read on every neuron call: kept while every value is a number (assigning a parameter clears it, see
        # __setattr__); a value of another type (a subclass's tensor) is read again each time.
        cached = self.__dict__.get("_param_values")
        if cached is not None:
            return cached
        raw = [getattr(self, p) for p in self.decl.params]
        values = tuple(float(v) for v in raw)
        if all(type(v) in (float, int) for v in raw):
            self.__dict__["_param_values"] = values
        return values

    def __setattr__(self, name: str, value) -> None:
        super().__setattr__(name, value)
        decl = self.__dict__.get("decl")
        if decl is not None and name in decl.params:
            self.__dict__.pop("_param_values", None)

    def set_spiking_mode(self, spiking: bool) -> None:
        if not spiking and self.decl.primitive is None:
            raise ValueError(f"{type(self).__name__} has no primitive function")
        self.spiking = bool(spiking)

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative dg/dz at ``z`` (same shape and dtype)."""
        return torch_functions(self.name)["derivative"](z, *self._tensors(z))

    def primitive(self, z: torch.Tensor) -> torch.Tensor:
        """The smooth primitive g(z); raises ``ValueError`` if the surrogate has none."""
        fns = torch_functions(self.name)
        if "primitive" not in fns:
            raise ValueError(f"{type(self).__name__} has no primitive function")
        return fns["primitive"](z, *self._tensors(z))

    def _tensors(self, z: torch.Tensor) -> list[torch.Tensor]:
        return [torch.as_tensor(v, dtype=z.dtype, device=z.device) for v in self.param_values]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return _spike(z, self.name, self.param_values)
        return self.primitive(z)

    def extra_repr(self) -> str:
        ps = ", ".join(f"{p}={getattr(self, p)}" for p in self.decl.params)
        return f"{ps}, spiking={self.spiking}"


def _alpha_class(name: str, default: float, doc: str, bound: float | None = 0.0) -> type[SurrogateFunction]:
    """Build a one-parameter (``alpha``) surrogate class with SpikingJelly's signature ``(alpha, spiking)``."""

    def __init__(self, alpha: float = default, spiking: bool = True) -> None:
        SurrogateFunction.__init__(self, spiking, alpha=alpha)

    __init__.__doc__ = f"Args:\n    alpha: shape parameter (default {default}).\n    spiking: see SurrogateFunction."
    bounds = {} if bound is None else {"alpha": bound}
    return type(name, (SurrogateFunction,), {"__init__": __init__, "__doc__": doc, "decl_name": name,
                                               "bounds": bounds, "__module__": __name__})


Sigmoid = _alpha_class("Sigmoid", 4.0, "``g'(z) = α·σ(αz)(1 − σ(αz)); g(z) = σ(αz).``")
ATan = _alpha_class("ATan", 2.0, "``g'(z) = α / (2(1 + (π/2·αz)²)); g(z) = atan(π/2·αz)/π + 1/2.``")
PiecewiseQuadratic = _alpha_class("PiecewiseQuadratic", 1.0,
                                  "``g'(z) = −α²|z| + α for |z| ≤ 1/α, else 0 (triangle).``")
PiecewiseExp = _alpha_class("PiecewiseExp", 1.0, "``g'(z) = α/2·exp(−α|z|).``")
SoftSign = _alpha_class("SoftSign", 2.0, "``g'(z) = α / (2(1 + |αz|)²); g(z) = (αz/(1 + |αz|) + 1)/2.``")
SuperSpike = _alpha_class("SuperSpike", 1.0, "``g'(z) = α / (|z| + 1)².``")
Erf = _alpha_class("Erf", 2.0, "``g'(z) = α/√π·exp(−α²z²); g(z) = erfc(−αz)/2.``")
Rect = _alpha_class("Rect", 1.0, "``g'(z) = α for |z| < 1/(2α), else 0; g(z) = clamp(αz + 1/2, 0, 1).``")
QPseudoSpike = _alpha_class("QPseudoSpike", 2.0, "``g'(z) = (1 + 2|z|/(α − 1))^(−α), α > 1 (q-PseudoSpike).``",
                            bound=1.0)
LogTailedReLU = _alpha_class("LogTailedReLU", 0.0, "``g'(z) = α for z ≤ 0, 1 for 0 < z ≤ 1, 1/z for z > 1.``",
                             bound=None)


class FakeNumericalGradient(SurrogateFunction):
    """``g'(z) = min((2Θ(z) − 1)/z, α)``; no primitive, so spiking only."""

    decl_name = "FakeNumericalGradient"
    bounds: ClassVar[dict[str, float]] = {"alpha": 0.0}

    def __init__(self, alpha: float = 0.3) -> None:
        super().__init__(True, alpha=alpha)


class PiecewiseLeakyReLU(SurrogateFunction):
    """``g'(z) = 1/(2w) for |z| < w, else c``."""

    decl_name = "PiecewiseLeakyReLU"
    bounds: ClassVar[dict[str, float]] = {"w": 0.0}

    def __init__(self, w: float = 1.0, c: float = 0.01, spiking: bool = True) -> None:
        super().__init__(spiking, w=w, c=c)


class S2NN(SurrogateFunction):
    """``g'(z) = α·σ(αz)(1 − σ(αz))`` for z < 0, ``β/(z + 1)`` for z ≥ 0."""

    decl_name = "S2NN"
    bounds: ClassVar[dict[str, float]] = {"alpha": 0.0, "beta": 0.0}

    def __init__(self, alpha: float = 4.0, beta: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=alpha, beta=beta)


class LeakyKReLU(SurrogateFunction):
    """``g'(z) = k`` for z ≥ 0, ``leak`` for z < 0."""

    decl_name = "LeakyKReLU"

    def __init__(self, spiking: bool = True, leak: float = 0.0, k: float = 1.0) -> None:
        super().__init__(spiking, leak=leak, k=k)

