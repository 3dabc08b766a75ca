"""Surrogates that are not declared (their forward is not Θ(z), or their gradient has no fixed closed form).

They follow SpikingJelly's protocol (:class:`~sj.surrogate.base.SurrogateFunctionBase`) and run as plain PyTorch.
Neurons take declared surrogates only (kernel backends generate code from the declaration), so these are for use
outside neurons — encoders, straight-through estimators, quantised activations.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import torch

from sj.surrogate.base import SurrogateFunctionBase, check_parameter
from sj.surrogate.generated import heaviside


class poisson_pass(torch.autograd.Function):
    """``poisson_pass.apply(x)``: a Bernoulli(x) sample forward (``x`` in [0, 1]), the identity backward."""

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output


class PoissonPass(SurrogateFunctionBase):
    """Spike with probability ``x`` (``x`` in [0, 1]) and pass the gradient straight through; ``spiking=False``
    returns ``x``. The sample keeps ``x``'s dtype (SpikingJelly casts it to float32)."""

    def __init__(self, spiking: bool = True) -> None:
        super().__init__(spiking=spiking)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return poisson_pass.apply(x) if self.spiking else x


def _squarewave_grad(x: torch.Tensor, n: int, T_period: float) -> torch.Tensor:
    w = 2.0 * math.pi / T_period
    grad = torch.zeros_like(x)
    for i in range(1, n):
        grad = grad + torch.cos((2 * i - 1.0) * w * x)
    return grad * (4.0 / T_period)


class squarewave_fourier_series(torch.autograd.Function):
    """``squarewave_fourier_series.apply(x, n, T_period)``: Θ(x) forward, the derivative of the first ``n − 1``
    terms of the square wave's Fourier series backward: ``4/T · Σ_{i=1}^{n−1} cos((2i − 1)·2π/T·x)``."""

    @staticmethod
    def forward(x: torch.Tensor, n: int, T_period: float) -> torch.Tensor:
        return heaviside(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, n, T_period = inputs
        ctx.save_for_backward(x)
        ctx.n, ctx.T_period = n, T_period

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad_output * _squarewave_grad(x, ctx.n, ctx.T_period), None, None


class SquarewaveFourierSeries(SurrogateFunctionBase):
    """Square wave approximated by ``n − 1`` Fourier terms of period ``T_period``:
    ``g(x) = 1/2 + 2/π · Σ_{i=1}^{n−1} sin((2i − 1)wx)/(2i − 1)``, ``w = 2π/T_period``.

    Args:
        n: number of terms + 1 (an integer ≥ 1; ``n = 1`` has zero gradient). Default 2.
        T_period: period (> 0). Default 8.
        spiking: see :class:`~sj.surrogate.base.SurrogateFunctionBase`.
    """

    bounds: ClassVar[dict[str, float]] = {"T_period": 0.0}

    def __init__(self, n: int = 2, T_period: float = 8, spiking: bool = True) -> None:
        super().__init__(spiking=spiking, n=n, T_period=T_period)

    def check_parameter(self, name: str, value: Any) -> None:
        if name == "n" and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise ValueError(f"SquarewaveFourierSeries: n must be an integer >= 1, got {value!r}")
        super().check_parameter(name, value)

    @staticmethod
    def spiking_function(x: torch.Tensor, n: int, T_period: float) -> torch.Tensor:
        return squarewave_fourier_series.apply(x, n, T_period)

    @staticmethod
    def primitive_function(x: torch.Tensor, n: int, T_period: float) -> torch.Tensor:
        w = 2.0 * math.pi / T_period
        total = torch.zeros_like(x)
        for i in range(1, n):
            c = 2 * i - 1.0
            total = total + torch.sin(c * w * x) / c
        return 0.5 + 2.0 / math.pi * total


class _MultiLevelSpikeCount(torch.autograd.Function):
    """round(clamp(x, 0, max)) forward; the gradient passes where ``grad_min ≤ x ≤ grad_max``."""

    @staticmethod
    def forward(x: torch.Tensor, max_spike_count: int, grad_min: float, grad_max: float) -> torch.Tensor:
        return torch.round(torch.clamp(x, 0, max_spike_count))

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, _, grad_min, grad_max = inputs
        ctx.save_for_backward(x)
        ctx.window = (grad_min, grad_max)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = ctx.saved_tensors
        low, high = ctx.window
        return grad_output * ((x >= low) & (x <= high)).to(grad_output.dtype), None, None, None


class MultiLevelSpikeCount(SurrogateFunctionBase):
    """Integer spike counts: ``round(clamp(x, 0, max_spike_count))`` forward, straight-through gradient inside
    ``grad_window``; ``spiking=False`` gives ``clamp(x, 0, max_spike_count)``.

    Args:
        max_spike_count: the largest count (an integer ≥ 1).
        spiking: see :class:`~sj.surrogate.base.SurrogateFunctionBase`.
        grad_window: ``(grad_min, grad_max)``, the inputs that receive gradient (inclusive); default
            ``(0, max_spike_count)``.
    """

    def __init__(self, max_spike_count: int, spiking: bool = True,
                 grad_window: tuple[float, float] | None = None) -> None:
        if isinstance(max_spike_count, bool) or not isinstance(max_spike_count, numbers.Integral):
            raise TypeError(f"MultiLevelSpikeCount: max_spike_count must be an integer, got {max_spike_count!r}")
        grad_min, grad_max = (0.0, float(max_spike_count)) if grad_window is None else grad_window
        super().__init__(spiking=spiking, max_spike_count=int(max_spike_count), grad_min=grad_min,
                         grad_max=grad_max)

    def check_parameter(self, name: str, value: Any) -> None:
        owner = type(self).__name__
        if name == "max_spike_count":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{owner}: max_spike_count must be an integer >= 1, got {value!r}")
            return
        check_parameter(owner, name, value)
        low = value if name == "grad_min" else self.__dict__.get("grad_min")
        high = value if name == "grad_max" else self.__dict__.get("grad_max")
        if low is not None and high is not None and low > high:
            raise ValueError(f"{owner}: grad_window must satisfy grad_min <= grad_max, got ({low}, {high})")

    @staticmethod
    def spiking_function(x: torch.Tensor, max_spike_count: int, grad_min: float, grad_max: float) -> torch.Tensor:
        return _MultiLevelSpikeCount.apply(x, max_spike_count, grad_min, grad_max)

    @staticmethod
    def primitive_function(x: torch.Tensor, max_spike_count: int, grad_min: float, grad_max: float) -> torch.Tensor:
        return torch.clamp(x, 0, max_spike_count)
