"""Encoders turning analog inputs into spikes (SpikingJelly-compatible names).

Stateless encoders (:class:`PoissonEncoder`) map each step's input to that step's spikes, element-wise, in either step
mode. Stateful encoders (:class:`LatencyEncoder`, :class:`WeightedPhaseEncoder`, :class:`PeriodicEncoder`) compute a
code of ``T`` steps from the first input after a reset and then emit it one step per call, cyclically: in ``'s'``
mode each call returns one step ``[N, *]``; in ``'m'`` mode the input ``[T', N, *]`` is fed step by step, giving
``[T', N, *]``. :meth:`StatefulEncoder.encode` returns a whole code ``[T, N, *]`` without touching the state.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sj.base import MemoryModule, StepModule


class PoissonEncoder(nn.Module, StepModule):
    """Bernoulli (rate) code: each step fires with probability equal to the input.

    Input: firing probabilities in ``[0, 1]``, ``[N, *]`` ('s') or ``[T, N, *]`` ('m'); output: 0/1 spikes of the same
    shape and dtype. Draws from torch's global generator (``torch.manual_seed`` makes it reproducible).
    """

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.dtype.is_floating_point:
            raise TypeError(f"PoissonEncoder: input must be floating point probabilities, got {x.dtype}")
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"PoissonEncoder: input must be probabilities in [0, 1], got range "
                             f"[{x.min().item():g}, {x.max().item():g}]")
        return (torch.rand_like(x) < x).to(x.dtype)

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"


class StatefulEncoder(MemoryModule):
    """Base of encoders with a period ``T``: :meth:`encode` builds the code ``[T, N, *]``; calls emit it cyclically.

    Memories: ``spike`` (the current code, ``None`` after reset) and ``t`` (the next step to emit).
    """

    def __init__(self, T: int, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"{type(self).__name__}: T must be an int ≥ 1, got {T!r}")
        self.T = T
        self.register_memory("spike", None)
        self.register_memory("t", 0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of ``x`` ``[N, *]`` as spikes ``[T, N, *]`` (same dtype as ``x``)."""
        raise NotImplementedError

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spike is None:
            self.spike = self.encode(x)
        t = self.t
        self.t = (t + 1) % self.T
        return self.spike[t]

    def extra_repr(self) -> str:
        return f"T={self.T}, step_mode={self.step_mode}"


class LatencyEncoder(StatefulEncoder):
    """Time-to-first-spike code: each neuron fires once per period, earlier for larger inputs.

    Args:
        T: period in steps.
        enc_function: ``'linear'``: spike at ``t_f = round((T − 1)(1 − x))``; ``'log'``:
            ``t_f = round(T − 1 − ln(α·x + 1))`` with ``α = e^(T−1) − 1`` (so x=1 fires at 0 and x=0 at T − 1).
        step_mode: see the module docstring.

    Input: intensities in ``[0, 1]``.
    """

    def __init__(self, T: int, enc_function: str = "linear", step_mode: str = "s") -> None:
        super().__init__(T, step_mode)
        if enc_function not in ("linear", "log"):
            raise ValueError(f"LatencyEncoder: enc_function must be 'linear' or 'log', got {enc_function!r}")
        self.enc_function = enc_function
        self.alpha = math.exp(T - 1.0) - 1.0

    def spike_time(self, x: torch.Tensor) -> torch.Tensor:
        """The firing step ``t_f`` (int64) of every element of ``x``."""
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError("LatencyEncoder: input must be in [0, 1]")
        if self.enc_function == "log":
            t_f = self.T - 1.0 - torch.log(self.alpha * x + 1.0)
        else:
            t_f = (self.T - 1.0) * (1.0 - x)
        return t_f.round().long().clamp(0, self.T - 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(self.spike_time(x), num_classes=self.T).to(x.dtype)  # [N, *, T]
        return one_hot.movedim(-1, 0)


class WeightedPhaseEncoder(StatefulEncoder):
    """Weighted phase code (Kim et al., 2018): step ``k`` carries the bit of weight ``2^−(k+1)`` of the input.

    Args:
        K: the period (number of bits). The input must lie in ``[0, 1 − 2^−K]``; ``Σ_k s[k]·2^−(k+1)`` reconstructs
            it up to ``2^−K``.
    """

    def __init__(self, K: int, step_mode: str = "s") -> None:
        super().__init__(K, step_mode)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        top = 1.0 - 2.0 ** (-self.T)
        if x.numel() and (x.min() < 0 or x.max() > top):
            raise ValueError(f"WeightedPhaseEncoder: input must be in [0, {top}] for K={self.T}")
        rest, w, bits = x.clone(), 0.5, []
        for _ in range(self.T):
            bit = (rest >= w).to(x.dtype)
            rest = rest - w * bit
            bits.append(bit)
            w *= 0.5
        return torch.stack(bits)


class PeriodicEncoder(StatefulEncoder):
    """Emit a fixed spike pattern ``spike`` ``[T, N, *]`` cyclically (the input of each call only sets the device).

    Args:
        spike: the pattern, time first; ``T = spike.shape[0]``. Stored as a buffer.
    """

    def __init__(self, spike: torch.Tensor, step_mode: str = "s") -> None:
        if not isinstance(spike, torch.Tensor) or spike.dim() < 1:
            raise ValueError("PeriodicEncoder: spike must be a tensor [T, *]")
        super().__init__(int(spike.shape[0]), step_mode)
        self.register_buffer("pattern", spike.detach().clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.pattern.to(x.device)


class GaussianTuning(nn.Module):
    """Population coding with Gaussian receptive fields (Bohte et al., 2002), SpikingJelly's ``GaussianTuning``.

    Each of ``n`` input features is seen by ``m`` (≥ 3) neurons with centres
    ``μ_i = x_min + (2i − 3)/2 · (x_max − x_min)/(m − 2)`` (i = 1..m) and width ``σ = (x_max − x_min)/(1.5(m − 2))``.

    Args:
        n: number of input features.
        m: neurons per feature.
        x_min, x_max: per-feature ranges, tensors ``[n]``.
    """

    def __init__(self, n: int, m: int, x_min: torch.Tensor, x_max: torch.Tensor) -> None:
        super().__init__()
        if m < 3:
            raise ValueError(f"GaussianTuning: m must be ≥ 3, got {m}")
        x_min, x_max = torch.as_tensor(x_min, dtype=torch.float), torch.as_tensor(x_max, dtype=torch.float)
        if x_min.shape != (n,) or x_max.shape != (n,) or not (x_max > x_min).all():
            raise ValueError(f"GaussianTuning: x_min and x_max must be [{n}] with x_max > x_min")
        i = torch.arange(1, m + 1, dtype=torch.float)
        width = (x_max - x_min) / (m - 2)
        self.register_buffer("mu", x_min.unsqueeze(1) + (2 * i - 3) / 2 * width.unsqueeze(1))  # [n, m]
        self.register_buffer("sigma", (width / 1.5).unsqueeze(1))  # [n, 1]

    def intensity(self, x: torch.Tensor) -> torch.Tensor:
        """Receptive-field activations in ``(0, 1]``: ``[N, n]`` → ``[N, n, m]``."""
        if x.dim() != 2 or x.shape[1] != self.mu.shape[0]:
            raise ValueError(f"GaussianTuning: input must be [N, {self.mu.shape[0]}], got {tuple(x.shape)}")
        d = x.unsqueeze(-1) - self.mu.to(x)
        return torch.exp(-(d**2) / (2 * self.sigma.to(x) ** 2))

    def encode(self, x: torch.Tensor, max_spike_time: int = 50) -> torch.Tensor:
        """Spike times ``[N, n, m]`` (int64): ``round(max_spike_time·(1 − activation))``; ``-1`` (no spike) where
        the time would be ``max_spike_time`` (activation ≈ 0)."""
        t = (max_spike_time * (1.0 - self.intensity(x))).round().long()
        return torch.where(t >= max_spike_time, torch.full_like(t, -1), t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intensity(x)
