"""Surrogate spike functions (SpikingJelly-compatible names, defaults and function-level API).

Each module maps ``z = h − v_threshold`` to a spike Θ(z) (1 where z ≥ 0) in forward and uses the surrogate derivative
in backward (``spiking=True``), or applies the smooth primitive (``spiking=False``). The formulas are declared once in
:mod:`sj.surrogate.declarations`; the modules, SpikingJelly's snake_case autograd functions (``sigmoid``,
``sigmoid_backward``, ...), the reference backend and every kernel backend are generated from them. Surrogates whose
forward is not Θ(z) (``PoissonPass``, ``MultiLevelSpikeCount``) or whose gradient has no fixed closed form
(``SquarewaveFourierSeries``) are plain PyTorch (:mod:`sj.surrogate.python_surrogates`).
"""

from __future__ import annotations

import importlib
import numbers
from typing import Any, ClassVar

import torch
from torch.autograd import forward_ad

from sj.surrogate.base import SurrogateFunctionBase, check_parameter
from sj.surrogate.declarations import BUILTIN_SURROGATES, SurrogateDecl, surrogates
from sj.surrogate.functions import AUTOGRAD_FUNCTIONS, BACKWARD_FUNCTIONS, surrogate_grad
from sj.surrogate.generated import heaviside, torch_functions
from sj.surrogate.python_surrogates import (
    MultiLevelSpikeCount,
    PoissonPass,
    SquarewaveFourierSeries,
    poisson_pass,
    squarewave_fourier_series,
)
from sj.surrogate.tools import check_manual_grad, plot_surrogate_function

__all__ = ["BUILTIN_SURROGATES", "MultiLevelSpikeCount", "PoissonPass", "SquarewaveFourierSeries", "SurrogateDecl",
           "SurrogateFunction", "SurrogateFunctionBase", "check_manual_grad", "check_parameter", "heaviside",
           "plot_surrogate_function", "poisson_pass", "squarewave_fourier_series", "torch_functions",
           *BUILTIN_SURROGATES, *AUTOGRAD_FUNCTIONS, *BACKWARD_FUNCTIONS]

globals().update(AUTOGRAD_FUNCTIONS)  # sigmoid, atan, ...: SpikingJelly's autograd functions
globals().update(BACKWARD_FUNCTIONS)  # sigmoid_backward, ...


def __getattr__(name: str):
    # SpikingJelly's surrogate module re-exports its quantize module; sj's is sj.quantize (imported on first use)
    if name == "quantize":
        return importlib.import_module("sj.quantize")
    raise AttributeError(f"module 'sj.surrogate' has no attribute {name!r}")


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
        return grad * surrogate_grad(ctx.name, z, ctx.params), None, None


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


class SurrogateFunction(SurrogateFunctionBase):
    """Base of the declared surrogates (every built-in one whose forward is Θ(z)); what neurons accept.

    Args:
        spiking: ``True`` → Θ forward with surrogate backward; ``False`` → the smooth primitive forward.
        **params: the declaration's parameters (finite numbers; stored as floats).

    Subclasses set ``decl_name`` and ``bounds`` (parameter → exclusive lower bound) and expose SpikingJelly's
    constructor signature. A parameter is checked whenever it is set (constructor or assignment). SpikingJelly's
    class-level functions ``Cls.spiking_function(x, *params)``, ``Cls.primitive_function(x, *params)`` and
    ``Cls.backward(grad_output, x, *params)`` are available too.
    """

    decl_name: str = ""
    bounds: ClassVar[dict[str, float]] = {}

    def __init__(self, spiking: bool = True, **params: float) -> None:
        decl = surrogates.get(self._decl_key())
        self.decl = decl  # first: setting ``spiking`` checks the declaration has a primitive
        if set(params) != set(decl.params):
            raise TypeError(f"{type(self).__name__}: expected parameters {decl.params}, got {tuple(params)}")
        super().__init__(spiking, **{p: params[p] for p in decl.params})

    @classmethod
    def _decl_key(cls) -> str:
        return cls.decl_name or cls.__name__

    def _accept_parameter(self, name: str, value: Any) -> Any:
        self.check_parameter(name, value)
        self.__dict__.pop("_param_values", None)  # the cached tuple (param_values) is stale now
        return float(value) if isinstance(value, numbers.Real) else value  # (a bool was refused above)

    def _check_spiking(self, spiking: bool) -> None:
        if not spiking and self.decl.primitive is None:
            raise ValueError(f"{type(self).__name__} has no primitive function; use spiking=True")

    @property
    def name(self) -> str:
        """Declaration name (what backends receive)."""
        return self.decl.name

    @property
    def param_values(self) -> tuple[float, ...]:
        """Current parameter values in declaration order."""
        # Read on every neuron call: kept while every value is a number (assigning a parameter clears it, see
        # check_parameter); a value of another type (a subclass's tensor) is read again each time.
        cached = self.__dict__.get("_param_values")
        if cached is not None:
            return cached
        raw = [getattr(self, p) for p in self.decl.params]
        values = tuple(float(v) for v in raw)
        if all(type(v) in (float, int) for v in raw):
            self.__dict__["_param_values"] = values
        return values

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        """The surrogate derivative dg/dz at ``z`` (same shape and dtype)."""
        return surrogate_grad(self.name, z, self.param_values)

    def primitive(self, z: torch.Tensor) -> torch.Tensor:
        """The smooth primitive g(z); raises ``ValueError`` if the surrogate has none."""
        return self.primitive_function(z, *self.param_values)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return _spike(z, self.name, self.param_values)
        return self.primitive(z)

    @classmethod
    def _bind(cls, args: tuple, kwargs: dict) -> tuple:
        """SpikingJelly's positional/keyword parameters → values in declaration order (defaults filled in)."""
        decl = surrogates.get(cls._decl_key())
        if len(args) > len(decl.params):
            raise TypeError(f"{cls.__name__}: takes {len(decl.params)} parameter(s) {decl.params}, got {len(args)}")
        values = dict(zip(decl.params, decl.defaults))
        values.update(zip(decl.params, args))
        unknown = set(kwargs) - set(decl.params)
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown parameter(s) {sorted(unknown)}; parameters: {decl.params}")
        values.update(kwargs)
        return tuple(values[p] for p in decl.params)

    @classmethod
    def spiking_function(cls, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Θ(x) forward, this surrogate's gradient backward (SpikingJelly's ``Cls.spiking_function(x, alpha)``)."""
        return _spike(x, cls._decl_key(), cls._bind(args, kwargs))

    @classmethod
    def primitive_function(cls, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The smooth primitive g(x) (SpikingJelly's ``Cls.primitive_function(x, alpha)``)."""
        fns = torch_functions(cls._decl_key())
        if "primitive" not in fns:
            raise ValueError(f"{cls.__name__} has no primitive function")
        return fns["primitive"](x, *(torch.as_tensor(p, dtype=x.dtype, device=x.device)
                                     for p in cls._bind(args, kwargs)))

    @classmethod
    def backward(cls, grad_output: torch.Tensor, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """``grad_output · g'(x)`` (SpikingJelly's ``Cls.backward(grad_output, x, alpha)``)."""
        return grad_output * surrogate_grad(cls._decl_key(), x, cls._bind(args, kwargs))

    def extra_repr(self) -> str:
        ps = ", ".join(f"{p}={getattr(self, p)}" for p in self.decl.params)
        return f"{ps}, spiking={self.spiking}" if ps else f"spiking={self.spiking}"


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
NonzeroSignLogAbs = _alpha_class("NonzeroSignLogAbs", 1.0,
                                  "``g'(z) = 1/(1/α + |z|); g(z) = sign(z)·log(α|z| + 1)`` (not bounded to [0, 1]).")
LogTailedReLU = _alpha_class("LogTailedReLU", 0.0, "``g'(z) = α for z ≤ 0, 1 for 0 < z ≤ 1, 1/z for z > 1.``",
                             bound=None)


class FakeNumericalGradient(SurrogateFunction):
    """``g'(z) = min((2Θ(z) − 1)/z, α) = min(1/|z|, α)``; no primitive, so spiking only."""

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

    def __init__(self, leak: float = 0.0, k: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking, leak=leak, k=k)


class DeterministicPass(SurrogateFunction):
    """Straight-through: Θ(z) forward, ``g'(z) = 1`` backward; ``spiking=False`` returns ``z`` itself."""

    decl_name = "DeterministicPass"

    def __init__(self, spiking: bool = True) -> None:
        super().__init__(spiking)

