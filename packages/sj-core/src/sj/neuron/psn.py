"""Parallel spiking neurons (PSN family, SpikingJelly 2.0): no recurrence over time; the potential at step t is a
learnable mix of the inputs, H = W·X + b over time, so a whole sequence is one matrix product (vectorised).

- :class:`PSN`: a full ``[T, T]`` mixing over a fixed ``T`` (multi-step only).
- :class:`MaskedPSN`: the mixing masked to the last ``k`` steps, the mask phased in by ``lambda_`` (0 → 1).
- :class:`SlidingPSN`: ``k`` shared weights over the last ``k`` inputs, for any ``T``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from sj.base import MemoryModule, MultiStepModule, StepModeError
from sj.functional.neuron_steps import masked_psn_step, sliding_psn_step
from sj.surrogate import ATan


def _check_int(owner: str, name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return value


def _mix(weight: torch.Tensor, bias: torch.Tensor, x_seq: torch.Tensor, surrogate: Callable) -> torch.Tensor:
    """``f(W·X + b)`` over time: ``weight`` ``[T, T]``, ``x_seq`` ``[T, N, *]``."""
    return surrogate(torch.addmm(bias, weight, x_seq.flatten(1))).view(x_seq.shape)


def _check_length(owner: str, x_seq: torch.Tensor, T: int) -> None:
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2 or x_seq.shape[0] != T:
        raise StepModeError(f"{owner}(T={T}) needs input [T={T}, N, *], got shape "
                            f"{tuple(getattr(x_seq, 'shape', ()))}")


class PSN(nn.Module, MultiStepModule):
    """Parallel spiking neuron: S = f(W·X + b) over a sequence of exactly ``T`` steps (W ``[T, T]`` Kaiming-uniform,
    b ``[T, 1]`` = −1; default surrogate ``ATan``)."""

    def __init__(self, T: int, surrogate_function: Callable | None = None) -> None:
        super().__init__()
        self.T = _check_int("PSN", "T", T)
        self.surrogate_function = ATan() if surrogate_function is None else surrogate_function
        self.weight = nn.Parameter(torch.empty(T, T))
        self.bias = nn.Parameter(torch.full((T, 1), -1.0))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_length("PSN", x_seq, self.T)
        return _mix(self.weight, self.bias, x_seq, self.surrogate_function)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class MaskedPSN(MemoryModule):
    """PSN whose ``[T, T]`` weight is masked to the last ``k`` steps by ``λ·mask_k + (1 − λ)·1``: training raises
    ``lambda_`` from 0 (a full PSN) to 1 (each step sees only the last ``k`` inputs), which also allows single-step
    mode (state: the step index and the last ``k`` inputs)."""

    def __init__(self, k: int, T: int, lambda_init: float = 0.0, surrogate_function: Callable | None = None,
                 step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.k, self.T = _check_int("MaskedPSN", "k", k), _check_int("MaskedPSN", "T", T)
        self.register_memory("time_step", 0)
        self.register_memory("queue", [])
        self.surrogate_function = ATan() if surrogate_function is None else surrogate_function
        self.register_buffer("_lambda_", torch.as_tensor(float(lambda_init)))
        self.weight = nn.Parameter(torch.empty(T, T))
        self.bias = nn.Parameter(torch.full((T, 1), -1.0))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        ones = torch.ones(T, T)
        self.register_buffer("mask0", torch.tril(ones) * torch.triu(ones, -(k - 1)))
        self.register_buffer("mask1", ones)

    @property
    def lambda_(self) -> torch.Tensor:
        return self._lambda_

    @lambda_.setter
    def lambda_(self, value: float) -> None:
        self._lambda_.fill_(value)

    @staticmethod
    def gen_masked_weight(lambda_: torch.Tensor, mask0: torch.Tensor, mask1: torch.Tensor, weight: torch.Tensor
                          ) -> torch.Tensor:
        return (lambda_ * mask0 + (1.0 - lambda_) * mask1) * weight

    def masked_weight(self) -> torch.Tensor:
        """The weight in use: fully masked once ``lambda_ >= 1``."""
        if self.lambda_ >= 1.0:
            return self.weight * self.mask0
        return self.gen_masked_weight(self.lambda_, self.mask0, self.mask1, self.weight)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        time_step, queue = states
        if self.lambda_ < 1.0:
            raise ValueError("MaskedPSN runs in single-step mode only once lambda_ >= 1 (each step then sees only "
                             "the last k inputs)")
        if time_step + 1 > self.T:
            raise OverflowError(f"MaskedPSN(T={self.T}) has run {time_step + 1} steps; call reset_net between "
                                "sequences")
        s, time_step, queue = masked_psn_step(inputs[0], time_step, tuple(queue), self.masked_weight(), self.bias,
                                              self.k, self.surrogate_function)
        return (s,), (time_step, list(queue))

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        _check_length("MaskedPSN", inputs[0], self.T)
        return (_mix(self.masked_weight(), self.bias, inputs[0], self.surrogate_function),), states

    def extra_repr(self) -> str:
        return f"lambda_={self.lambda_.item()}, k={self.k}, T={self.T}, step_mode={self.step_mode}"


class SlidingPSN(MemoryModule):
    """PSN with ``k`` weights shared over time: H_t = Σ_{i<k} w_{k−1−i}·X_{t−i} + b, for any sequence length.
    ``exp_init``: weights start at 2^{−i} from the newest (else Kaiming-uniform); b starts at −1."""

    def __init__(self, k: int, exp_init: bool = True, surrogate_function: Callable | None = None,
                 step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.k = _check_int("SlidingPSN", "k", k)
        self.register_memory("queue", [])
        self.surrogate_function = ATan() if surrogate_function is None else surrogate_function
        if exp_init:
            weight = 0.5 ** torch.arange(k - 1, -1, -1, dtype=torch.get_default_dtype())
        else:
            weight = torch.empty(1, k)
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            weight = weight[0]
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.as_tensor(-1.0))

    def gen_gemm_weight(self, T: int) -> torch.Tensor:
        """The ``[T, T]`` band matrix of the shared weights (row t mixes steps t−k+1 … t)."""
        lag = torch.arange(T, device=self.weight.device)[:, None] - torch.arange(T, device=self.weight.device)
        inside = (lag >= 0) & (lag < self.k)
        taps = self.weight[(self.k - 1 - lag).clamp(0, self.k - 1)]
        return torch.where(inside, taps, torch.zeros((), dtype=self.weight.dtype, device=self.weight.device))

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        s, queue = sliding_psn_step(inputs[0], tuple(states[0]), self.weight, self.bias, self.surrogate_function)
        return (s,), (list(queue),)

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        x_seq = inputs[0]
        return (_mix(self.gen_gemm_weight(x_seq.shape[0]), self.bias, x_seq, self.surrogate_function),), states

    def extra_repr(self) -> str:
        return f"order={self.k}, step_mode={self.step_mode}"
