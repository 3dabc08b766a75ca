"""Encoders turning analog inputs into spikes (SpikingJelly's ``activation_based.encoding``).

Stateless encoders (:class:`StatelessEncoder`: :class:`PoissonEncoder`) map each step's input to that step's spikes,
element-wise, in either step mode. Stateful encoders (:class:`StatefulEncoder`: :class:`LatencyEncoder`,
:class:`WeightedPhaseEncoder`, :class:`PeriodicEncoder`) compute a code of ``T`` steps from the first input after a
reset and then emit it one step per call, cyclically: in ``'s'`` mode each call returns one step ``[N, *]``; in
``'m'`` mode the input ``[T', N, *]`` is fed step by step, giving ``[T', N, *]``. :meth:`StatefulEncoder.encode`
returns a whole code ``[T, N, *]`` without touching the state. Population encoders (:class:`PopEncoder`,
:class:`PopSpikeEncoderDeterministic`, :class:`PopSpikeEncoderRandom`) map observations ``[N, obs_dim]`` through
learnable Gaussian receptive fields to ``[spike_ts, N, obs_dim·pop_dim]``; :class:`GaussianTuning` is Bohte's
population code.

Every encoder checks its input: floating point, no NaN, and inside the range its code is defined on; a violation
raises naming the encoder. Spike times and bits are computed in float64 whatever the input dtype, so a code does not
depend on the dtype it was given in (the output has the input's dtype).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sj import base, functional, neuron, surrogate  # noqa: F401 - SpikingJelly's encoding exposes these modules
from sj.base import MemoryModule, StepModule
from sj.quantize import straight_through


def check_input(owner: str, x: torch.Tensor, low: float | None = 0.0, high: float | None = 1.0) -> None:
    """Raise ``TypeError`` unless ``x`` is a floating-point tensor, ``ValueError`` if it holds NaN or a value outside
    ``[low, high]`` (``None``: unbounded on that side). Skipped while ``torch.compile`` traces."""
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{owner}: input must be a floating-point tensor, got {got}")
    if torch.compiler.is_compiling() or not x.numel():
        return
    if low is None and high is None:
        if torch.isnan(x).any():
            _nan(owner, x)
        return
    lo, hi = torch.stack(torch.aminmax(x)).tolist()  # one pass, one read back; NaN propagates into both
    if lo != lo or hi != hi:
        _nan(owner, x)
    if (low is not None and lo < low) or (high is not None and hi > high):
        span = f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
        raise ValueError(f"{owner}: input must be in {span}, got values in [{lo:g}, {hi:g}]")


def _nan(owner: str, x: torch.Tensor) -> None:
    raise ValueError(f"{owner}: input contains NaN (at index {tuple(torch.isnan(x).nonzero()[0].tolist())})")


def _exact(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64 (float32 where the device has no float64), exactly: every narrower float converts exactly."""
    return x.to(torch.float32 if x.device.type == "mps" else torch.float64)


class StatelessEncoder(nn.Module, StepModule):
    """Base of encoders without state: ``forward(x)`` maps ``x`` to spikes of the same shape (either step mode)."""

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"


class PoissonEncoder(StatelessEncoder):
    """Bernoulli (rate) code: each step fires with probability equal to the input.

    Input: firing probabilities in ``[0, 1]``, ``[N, *]`` ('s') or ``[T, N, *]`` ('m'); output: 0/1 spikes of the same
    shape and dtype. Draws ``torch.rand_like(x)`` from torch's global generator (as SpikingJelly, so a seed gives the
    same spikes) and fires where the draw is below ``x`` (so ``x = 0`` never fires).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input("PoissonEncoder", x)
        return (torch.rand_like(x) < x).to(x.dtype)


class StatefulEncoder(MemoryModule):
    """Base of encoders with a period ``T``: :meth:`single_step_encode` builds the code ``[T, N, *]`` of the first input
    after a reset; calls emit it one step at a time, cyclically.

    Memories: ``spike`` (the current code, ``None`` after reset) and ``t`` (the next step to emit).
    """

    def __init__(self, T: int, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"{type(self).__name__}: T must be an int ≥ 1, got {T!r}")
        self.T = T
        self.register_memory("spike", None)
        self.register_memory("t", 0)

    def single_step_encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of ``x`` ``[N, *]`` as spikes ``[T, N, *]`` (override in a subclass)."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of ``x`` ``[N, *]`` as spikes ``[T, N, *]``, without touching the state."""
        return self.single_step_encode(x)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spike is None:
            self.spike = self.single_step_encode(x)
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
            ``t_f = round(T − 1 − ln(α·x + 1))`` with ``α = e^(T−1) − 1`` (so x=1 fires at 0 and x=0 at T − 1),
            evaluated as ``T − 1 − logaddexp(T − 1 + ln x, ln(1 − x))``, which does not overflow for any T.
        step_mode: see the module docstring.

    Input: intensities in ``[0, 1]``. ``round`` is half-to-even (torch's, as SpikingJelly).
    """

    def __init__(self, T: int, enc_function: str = "linear", step_mode: str = "s") -> None:
        super().__init__(T, step_mode)
        if enc_function not in ("linear", "log"):
            raise ValueError(f"LatencyEncoder: enc_function must be 'linear' or 'log', got {enc_function!r}")
        self.enc_function = enc_function
        if enc_function == "log":  # informative only (inf where it exceeds a double); the code does not use it
            self.alpha = math.expm1(T - 1.0) if T - 1.0 < 709.0 else math.inf

    def spike_time(self, x: torch.Tensor) -> torch.Tensor:
        """The firing step ``t_f`` (int64, in ``[0, T − 1]``) of every element of ``x``."""
        check_input("LatencyEncoder", x)
        x, last = _exact(x), self.T - 1.0
        if self.enc_function == "log":
            t_f = last - torch.logaddexp(last + torch.log(x), torch.log1p(-x))
        else:
            t_f = last * (1.0 - x)
        return t_f.round().long().clamp_(0, self.T - 1)

    def single_step_encode(self, x: torch.Tensor) -> torch.Tensor:
        return F.one_hot(self.spike_time(x), num_classes=self.T).to(x.dtype).movedim(-1, 0)


class WeightedPhaseEncoder(StatefulEncoder):
    """Weighted phase code (Kim et al., 2018): step ``k`` carries the bit of weight ``2^−(k+1)`` of the input.

    Args:
        K: the period (number of bits). The input must lie in ``[0, 1 − 2^−K]``; ``Σ_k s[k]·2^−(k+1)`` reconstructs
            it up to ``2^−K``.
    """

    def __init__(self, K: int, step_mode: str = "s") -> None:
        super().__init__(K, step_mode)

    def single_step_encode(self, x: torch.Tensor) -> torch.Tensor:
        check_input("WeightedPhaseEncoder", x, 0.0, 1.0 - 2.0 ** (-self.T))
        rest, w, bits = _exact(x), 0.5, []
        for _ in range(self.T):
            bit = (rest >= w).to(rest.dtype)
            rest = rest - w * bit
            bits.append(bit)
            w *= 0.5
        return torch.stack(bits).to(x.dtype)


class PeriodicEncoder(StatefulEncoder):
    """Emit a fixed spike pattern ``spike`` ``[T, N, *]`` cyclically: the t-th call returns ``spike[t % T]`` (the input
    of each call only sets the device).

    Args:
        spike: the pattern, time first; ``T = spike.shape[0]``. Kept as a non-persistent buffer (not in
            ``state_dict``, as in SpikingJelly).
    """

    def __init__(self, spike: torch.Tensor, step_mode: str = "s") -> None:
        if not isinstance(spike, torch.Tensor) or spike.dim() < 1 or spike.shape[0] < 1:
            raise ValueError("PeriodicEncoder: spike must be a tensor [T, *] with T ≥ 1")
        super().__init__(int(spike.shape[0]), step_mode)
        self.register_buffer("pattern", spike.detach().clone(), persistent=False)

    def single_step_encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.pattern.to(x.device)


class _Population(nn.Module):
    """Learnable Gaussian receptive fields: ``pop_dim`` means evenly spread over ``mean_range`` per observation
    dimension (``mean`` ``[1, obs_dim, pop_dim]``) with a common initial width ``std`` (``std``, same shape)."""

    def __init__(self, obs_dim: int, pop_dim: int, spike_ts: int, mean_range: tuple[float, float],
                 std: float) -> None:
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("pop_dim", pop_dim), ("spike_ts", spike_ts)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be an int ≥ 1, got {value!r}")
        if not (isinstance(std, (int, float)) and std > 0 and math.isfinite(std)):
            raise ValueError(f"{type(self).__name__}: std must be a finite number > 0, got {std!r}")
        self.obs_dim, self.pop_dim, self.spike_ts = obs_dim, pop_dim, spike_ts
        self.encoder_neuron_num = obs_dim * pop_dim
        mean = torch.linspace(float(mean_range[0]), float(mean_range[1]), pop_dim).expand(1, obs_dim, pop_dim)
        self.mean = nn.Parameter(mean.clone())
        self.std = nn.Parameter(torch.full_like(mean, float(std)))

    def activity(self, obs: torch.Tensor) -> torch.Tensor:
        """``exp(−((obs − mean)/std)²/2)``: ``[N, obs_dim]`` → ``[N, obs_dim·pop_dim]`` (leading dims flattened)."""
        check_input(type(self).__name__, obs, None, None)
        if obs.shape[-1] != self.obs_dim:
            raise ValueError(f"{type(self).__name__}: observations must end in obs_dim={self.obs_dim}, got shape "
                             f"{tuple(obs.shape)}")
        z = (obs.reshape(-1, self.obs_dim, 1) - self.mean) / self.std
        return torch.exp(-0.5 * z.square()).flatten(1)

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, pop_dim={self.pop_dim}, spike_ts={self.spike_ts}"


class PopEncoder(_Population):
    """Population activities as a constant input sequence: ``[N, obs_dim]`` → ``[spike_ts, N, obs_dim·pop_dim]``
    (Tang et al., 2020, PopSAN).

    Args:
        obs_dim: observation size. pop_dim: neurons per observation dimension. spike_ts: steps.
        mean_range: ``(low, high)`` of the initial means. std: initial width (> 0). ``mean`` and ``std`` are learnable.
    """

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.activity(obs).unsqueeze(0).repeat(self.spike_ts, 1, 1)


class PopSpikeEncoderDeterministic(_Population):
    """Population activities fed for ``spike_ts`` steps to integrate-and-fire neurons (``neurons``: threshold
    0.999, soft reset, reset detached) whose spike gradient is 1 (straight-through): deterministic spike trains
    ``[spike_ts, N, obs_dim·pop_dim]``. The neurons keep their membrane between calls until
    :func:`sj.functional.reset_net`. Args: as :class:`PopEncoder`.
    """

    def __init__(self, obs_dim: int, pop_dim: int, spike_ts: int, mean_range: tuple[float, float],
                 std: float) -> None:
        super().__init__(obs_dim, pop_dim, spike_ts, mean_range, std)
        # LeakyKReLU with both slopes 1 has derivative 1 everywhere: SpikingJelly's DeterministicPass
        self.neurons = neuron.IFNode(v_threshold=0.999, v_reset=None, detach_reset=True, step_mode="m",
                                     surrogate_function=surrogate.LeakyKReLU(leak=1.0, k=1.0))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.neurons(self.activity(obs).unsqueeze(0).repeat(self.spike_ts, 1, 1))


class PopSpikeEncoderRandom(_Population):
    """Population activities as firing probabilities: Bernoulli spike trains ``[spike_ts, N, obs_dim·pop_dim]``
    (torch's global generator) with a straight-through gradient to the activities. Args: as :class:`PopEncoder`.
    """

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        p = self.activity(obs)
        return straight_through(p.unsqueeze(0).expand(self.spike_ts, *p.shape), torch.bernoulli)


class GaussianTuning(nn.Module):
    """Population coding with Gaussian receptive fields (Bohte et al., 2002).

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
        check_input("GaussianTuning", x, None, None)
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
