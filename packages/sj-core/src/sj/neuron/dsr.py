"""Differentiation on spike representation (DSR, SpikingJelly 2.0): IF / LIF neurons over a sequence whose backward
is the gradient of the rate (IF) or weighted-rate (LIF) code they approximate, not a surrogate per step; the
threshold is learnable. Multi-step mode only."""

from __future__ import annotations

import math

import torch
from torch import nn

from sj.base import MemoryModule, StepModeError


def _check(owner: str, T: int, v_threshold: float, alpha: float, lower: float) -> None:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"{owner}: T must be a positive integer, got {T!r}")
    if not lower > 0.0:
        raise ValueError(f"{owner}: v_threshold_lower_bound must be > 0, got {lower}")
    if not v_threshold >= lower:
        raise ValueError(f"{owner}: v_threshold must be >= v_threshold_lower_bound = {lower}, got {v_threshold}")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"{owner}: alpha must be in (0, 1], got {alpha}")


def _fire(x_seq: torch.Tensor, v_threshold: torch.Tensor, alpha: float, beta: float, gain: float) -> torch.Tensor:
    """V ← β·V + gain·X; spike V_th where V ≥ α·V_th (then V −= V_th)."""
    v = torch.zeros_like(x_seq[0])
    out = []
    for x in x_seq:
        v = beta * v + gain * x
        s = (v >= alpha * v_threshold).to(x.dtype) * v_threshold
        v = v - s
        out.append(s)
    return torch.stack(out)


def _weighted_rate(seq: torch.Tensor, tau: float, delta_t: float) -> torch.Tensor:
    """Σ_t w_t·seq_t / Σ w_t with w_t = exp(−(T − t)·Δt/τ), t = 1..T (the LIF rate code)."""
    T = seq.shape[0]
    w = torch.exp(-(delta_t * T - delta_t * torch.arange(1, T + 1, dtype=torch.float64)) / tau)
    w = w.to(device=seq.device, dtype=seq.dtype).view(T, *([1] * (seq.dim() - 1)))
    return (w * seq).sum(0) / w.sum()


class _DSRIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_seq, T: int, v_threshold, alpha: float, grad_scale: float):
        ctx.save_for_backward(x_seq, v_threshold)
        ctx.T, ctx.grad_scale = T, grad_scale
        return _fire(x_seq, v_threshold, alpha, 1.0, 1.0)

    @staticmethod
    def backward(ctx, grad):
        x_seq, v_threshold = ctx.saved_tensors
        rate, grad_rate = x_seq.mean(0), grad.mean(0) * ctx.T
        grad_x = torch.where((rate < 0) | (rate > v_threshold), 0.0, grad_rate)
        grad_th = torch.where(rate <= v_threshold, 0.0, grad_rate).sum() * ctx.grad_scale
        return (grad_x / ctx.T).expand_as(x_seq).clone(), None, grad_th.to(v_threshold.dtype), None, None


class _DSRLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_seq, T: int, v_threshold, tau: float, delta_t: float, alpha: float, grad_scale: float):
        ctx.save_for_backward(x_seq, v_threshold)
        ctx.T, ctx.tau, ctx.delta_t, ctx.grad_scale = T, tau, delta_t, grad_scale
        beta = math.exp(-delta_t / tau)
        return _fire(x_seq, v_threshold, alpha, beta, 1.0 - beta) / delta_t

    @staticmethod
    def backward(ctx, grad):
        x_seq, v_threshold = ctx.saved_tensors
        tau, dt = ctx.tau, ctx.delta_t
        rate, grad_rate = _weighted_rate(x_seq, tau, dt), _weighted_rate(grad, tau, dt) * ctx.T
        top = v_threshold / dt * tau
        grad_x = torch.where((rate > 0) & (rate < top), grad_rate / tau, 0.0)
        grad_th = torch.where(rate <= top, 0.0, grad_rate).sum() * dt * ctx.grad_scale
        return (grad_x / ctx.T).expand_as(x_seq).clone(), None, grad_th.to(v_threshold.dtype), None, None, None, None


class _DSRNode(MemoryModule):
    def __init__(self, T: int, v_threshold: float, alpha: float, v_threshold_training: bool,
                 v_threshold_grad_scaling: float, v_threshold_lower_bound: float, step_mode: str) -> None:
        _check(type(self).__name__, T, v_threshold, alpha, v_threshold_lower_bound)
        super().__init__(step_mode)
        self.T, self.alpha = T, float(alpha)
        self.v_threshold_lower_bound, self.v_threshold_grad_scaling = v_threshold_lower_bound, v_threshold_grad_scaling
        if v_threshold_training:
            self.v_threshold = nn.Parameter(torch.tensor(float(v_threshold)))
        else:  # not in the state dict, as in SpikingJelly; follows .to()
            self.register_buffer("v_threshold", torch.tensor(float(v_threshold)), persistent=False)

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

    def _threshold(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
            raise StepModeError(f"{type(self).__name__} needs input [T, N, *], got {getattr(x_seq, 'shape', x_seq)}")
        return self.v_threshold.clamp(min=self.v_threshold_lower_bound)


class DSRIFNode(_DSRNode):
    """DSR IF: forward, IF spikes of height V_th at V ≥ α·V_th (subtractive reset); backward, the gradient of the
    clipped rate code mean(X) ∈ [0, V_th] (``v_threshold_grad_scaling`` scales the threshold's)."""

    def __init__(self, T: int = 20, v_threshold: float = 6.0, alpha: float = 0.5, v_threshold_training: bool = True,
                 v_threshold_grad_scaling: float = 1.0, v_threshold_lower_bound: float = 0.01,
                 step_mode: str = "m") -> None:
        super().__init__(T, v_threshold, alpha, v_threshold_training, v_threshold_grad_scaling,
                         v_threshold_lower_bound, step_mode)

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        x_seq = inputs[0]
        y = _DSRIF.apply(x_seq, self.T, self._threshold(x_seq), self.alpha, self.v_threshold_grad_scaling)
        return (y,), states


class DSRLIFNode(_DSRNode):
    """DSR LIF: forward, LIF spikes (V ← e^{−Δt/τ}V + (1 − e^{−Δt/τ})X) of height V_th/Δt; backward, the gradient of
    the exponentially weighted rate code."""

    def __init__(self, T: int = 20, v_threshold: float = 1.0, tau: float = 2.0, delta_t: float = 0.05,
                 alpha: float = 0.3, v_threshold_training: bool = True, v_threshold_grad_scaling: float = 1.0,
                 v_threshold_lower_bound: float = 0.1, step_mode: str = "m") -> None:
        super().__init__(T, v_threshold, alpha, v_threshold_training, v_threshold_grad_scaling,
                         v_threshold_lower_bound, step_mode)
        self.tau, self.delta_t = float(tau), float(delta_t)

    @classmethod
    def weight_rate_spikes(cls, data: torch.Tensor, tau: float, delta_t: float) -> torch.Tensor:
        """The weighted rate code of ``data`` ``[T, N, *]``."""
        return _weighted_rate(data, tau, delta_t)

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        x_seq = inputs[0]
        y = _DSRLIF.apply(x_seq, self.T, self._threshold(x_seq), self.tau, self.delta_t, self.alpha,
                          self.v_threshold_grad_scaling)
        return (y,), states
