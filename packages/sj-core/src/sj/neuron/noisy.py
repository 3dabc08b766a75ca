"""Noisy spiking neurons (NoisySAN, SpikingJelly 2.0, spiking RL): colored noise (power spectrum 1/f^β) added to the
membrane input and to the spikes during training, for exploration. The noise of ``num_rl_step`` RL steps is drawn at
once by :meth:`NoisyBaseNode.reset_noise` (each forward uses the next step's), or loaded explicitly
(:meth:`~NoisyBaseNode.load_colored_noise`, e.g. to replay a stored rollout). Multi-step only, ``T`` steps per call,
the membrane starting from ``v_reset`` at every call; inputs ``[T, N, num_node]``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from sj.base import MultiStepModule, StepModeError
from sj.neuron.ilc import _ChargeFireReset, _check_population, _CUBACharge
from sj.neuron.nonspiking import check_decode, decode_potentials
from sj.surrogate import Rect


def powerlaw_psd_gaussian(exponent: float, size: int | Iterable[int], fmin: float = 0.0,
                          random_state: int | np.random.Generator | np.random.RandomState | None = None) -> np.ndarray:
    """Gaussian noise with power spectrum S(f) ∝ (1/f)^``exponent`` along the last axis of ``size`` (Timmer &
    König 1995): 0 white, 1 pink, 2 brown. Frequencies below ``fmin`` (in cycles per sample, at least 1/samples,
    at most 0.5) get the spectrum's value at ``fmin``. Normalised to unit variance. ``random_state``: a seed, or a
    NumPy ``Generator`` / ``RandomState``."""
    if isinstance(size, int | np.integer):
        size = [int(size)]
    elif isinstance(size, Iterable):
        size = [int(s) for s in size]
    else:
        raise ValueError(f"powerlaw_psd_gaussian: size must be an int or an iterable of ints, got {size!r}")
    if not 0.0 <= fmin <= 0.5:
        raise ValueError(f"powerlaw_psd_gaussian: fmin must be in [0, 0.5], got {fmin}")
    if isinstance(random_state, int | np.integer) or random_state is None:
        rng = np.random.default_rng(random_state)
    elif isinstance(random_state, np.random.Generator | np.random.RandomState):
        rng = random_state
    else:
        raise ValueError("powerlaw_psd_gaussian: random_state must be an int, None, a numpy Generator or RandomState")
    samples = size[-1]
    f = np.fft.rfftfreq(samples)
    fmin = max(fmin, 1.0 / samples)
    below = int(np.sum(f < fmin))
    if 0 < below < len(f):
        f[:below] = f[below]  # a flat spectrum under fmin
    amplitude = f ** (-exponent / 2.0)
    tail = amplitude[1:].copy()
    tail[-1] *= (1 + samples % 2) / 2.0
    sigma = 2 * np.sqrt(np.sum(tail ** 2)) / samples
    shape = [*size[:-1], len(f)]
    amplitude = amplitude[(np.newaxis,) * (len(size) - 1) + (Ellipsis,)]
    real = rng.normal(scale=amplitude, size=shape)
    imag = rng.normal(scale=amplitude, size=shape)
    if samples % 2 == 0:  # the Nyquist component is real
        imag[..., -1] = 0
        real[..., -1] *= np.sqrt(2)
    imag[..., 0] = 0  # and so is the mean
    real[..., 0] *= np.sqrt(2)
    return np.fft.irfft(real + 1j * imag, n=samples, axis=-1) / sigma


def _noise_sequences(beta: float, num_node: int, num_rl_step: int, T: int) -> torch.Tensor:
    """``[num_rl_step, T, num_node]`` colored noise, correlated along the RL steps × T axis of each neuron."""
    noise = powerlaw_psd_gaussian(beta, [num_node, num_rl_step * T]).reshape(num_node, num_rl_step, T)
    return torch.tensor(noise, dtype=torch.float32).permute(1, 2, 0)


class _NoiseSchedule:
    """Noise bookkeeping shared by the noisy neurons: the pre-drawn sequences and the current RL step."""

    def _check_input(self, x_seq) -> None:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2 or x_seq.shape[0] < self.T:
            raise StepModeError(f"{type(self).__name__}(T={self.T}) needs input [T={self.T}, N, {self.num_node}], got "
                                f"{tuple(getattr(x_seq, 'shape', ()))}")

    def _next_rl_step(self, loaded: bool) -> None:
        if self.is_training and not loaded:
            if not hasattr(self, "noise_step"):
                raise RuntimeError(f"{type(self).__name__}: call reset_noise(num_rl_step) before a training forward")
            self.noise_step += 1


class NoisyBaseNode(_NoiseSchedule, _ChargeFireReset, nn.Module, MultiStepModule):
    """A noisy spiking neuron population of ``num_node`` neurons (noise scale ``sigma_init/√num_node`` on both the
    membrane input and the spikes, while ``is_training``); a subclass defines ``neuronal_charge``."""

    def __init__(self, num_node: int, is_training: bool = True, T: int = 5, sigma_init: float = 0.5,
                 beta: float = 0.0, v_threshold: float = 0.5, v_reset: float | None = 0.0,
                 surrogate_function: Callable | None = None) -> None:
        super().__init__()
        self.num_node, self.is_training, self.T, self.beta = num_node, is_training, T, beta
        self.sigma_v = self.sigma_s = sigma_init / math.sqrt(num_node)
        self.cn_v = self.cn_s = None
        self.v_threshold, self.v_reset = v_threshold, v_reset
        self.surrogate_function = Rect() if surrogate_function is None else surrogate_function

    def _after_spike(self, t: int, spike: torch.Tensor) -> torch.Tensor | None:
        """Input added to step t + 1 (none here; :class:`NoisyILCBaseNode` feeds the spikes back)."""
        return None

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        self._check_input(x_seq)
        self.init_tensor(x_seq[0])
        loaded = self.cn_v is not None and self.cn_s is not None
        self._next_rl_step(loaded)
        out, extra = [], None
        for t in range(self.T):
            x = x_seq[t] if extra is None else x_seq[t] + extra
            if self.is_training:
                x = x + self.sigma_v * (self.cn_v[:, t] if loaded else self.eps_v_seq[self.noise_step][t].to(x))
            self.neuronal_charge(x)
            spike = self.neuronal_fire()
            self.neuronal_reset(spike)
            if self.is_training:
                spike = spike + self.sigma_s * (self.cn_s[:, t] if loaded else
                                                self.eps_s_seq[self.noise_step][t].to(spike))
            out.append(spike)
            extra = self._after_spike(t, spike)
        return torch.stack(out)

    def reset_noise(self, num_rl_step: int) -> None:
        """Draw the noise of the next ``num_rl_step`` RL steps (``[num_rl_step, T, num_node]`` for V and S)."""
        self.eps_v_seq = _noise_sequences(self.beta, self.num_node, num_rl_step, self.T)
        self.eps_s_seq = _noise_sequences(self.beta, self.num_node, num_rl_step, self.T)
        self.noise_step = -1

    def get_colored_noise(self) -> torch.Tensor:
        """The current RL step's noise, ``[T, 2·num_node]`` (membrane, then spike)."""
        return torch.cat([self.eps_v_seq[self.noise_step], self.eps_s_seq[self.noise_step]], dim=1)

    def load_colored_noise(self, cn: torch.Tensor) -> None:
        """Use ``cn`` ``[N, T, 2·num_node]`` (as stacked from :meth:`get_colored_noise`) instead of the schedule."""
        self.cn_v, self.cn_s = cn[:, :, :self.num_node], cn[:, :, self.num_node:]

    def cancel_load(self) -> None:
        self.cn_v = self.cn_s = None


class NoisyCUBALIFNode(_CUBACharge, NoisyBaseNode):
    """Noisy current-based LIF population (:class:`~sj.neuron.CUBALIFNode`'s charge)."""

    def __init__(self, num_node: int, c_decay: float = 0.5, v_decay: float = 0.75, is_training: bool = True,
                 T: int = 5, sigma_init: float = 0.5, beta: float = 0.0, v_threshold: float = 0.5,
                 v_reset: float | None = 0.0, surrogate_function: Callable | None = None) -> None:
        super().__init__(num_node, is_training, T, sigma_init, beta, v_threshold, v_reset, surrogate_function)
        self.c_decay, self.v_decay = c_decay, v_decay


class NoisyILCBaseNode(NoisyBaseNode):
    """Noisy population with intra-layer connections (see :mod:`sj.neuron.ilc`): the noisy spikes of step t feed
    step t + 1 through ``conn``."""

    def __init__(self, act_dim: int, dec_pop_dim: int, is_training: bool = True, T: int = 5, sigma_init: float = 0.5,
                 beta: float = 0.0, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_function: Callable | None = None) -> None:
        _check_population(type(self).__name__, act_dim, dec_pop_dim)
        self.act_dim, self.dec_pop_dim = act_dim, dec_pop_dim
        super().__init__(act_dim * dec_pop_dim, is_training, T, sigma_init, beta, v_threshold, v_reset,
                         surrogate_function)
        self.conn = nn.Conv1d(act_dim, self.num_node, dec_pop_dim, groups=act_dim)

    def _after_spike(self, t: int, spike: torch.Tensor) -> torch.Tensor | None:
        if t + 1 == self.T:
            return None
        return self.conn(spike.view(-1, self.act_dim, self.dec_pop_dim)).view(-1, self.num_node)


class NoisyILCCUBALIFNode(_CUBACharge, NoisyILCBaseNode):
    """Noisy ILC population of current-based LIF neurons."""

    def __init__(self, act_dim: int, dec_pop_dim: int, c_decay: float = 0.5, v_decay: float = 0.75,
                 is_training: bool = True, T: int = 5, sigma_init: float = 0.5, beta: float = 0.0,
                 v_threshold: float = 1.0, v_reset: float | None = 0.0, surrogate_function: Callable | None = None
                 ) -> None:
        super().__init__(act_dim, dec_pop_dim, is_training, T, sigma_init, beta, v_threshold, v_reset,
                         surrogate_function)
        self.c_decay, self.v_decay = c_decay, v_decay


class NoisyNonSpikingBaseNode(_NoiseSchedule, nn.Module, MultiStepModule):
    """A noisy non-spiking readout of ``num_node`` neurons: noise with a learnable per-neuron scale ``sigma`` added
    to the input while ``is_training``; the potentials are decoded as in :mod:`sj.neuron.nonspiking`."""

    def __init__(self, num_node: int, is_training: bool = True, T: int = 5, sigma_init: float = 0.5,
                 beta: float = 0.0, decode: str | None = None) -> None:
        super().__init__()
        self.num_node, self.is_training, self.T, self.beta = num_node, is_training, T, beta
        self.decode = check_decode(type(self).__name__, decode)
        self.sigma = nn.Parameter(torch.full((num_node,), sigma_init / math.sqrt(num_node)))
        self.cn = None

    def neuronal_charge(self, x: torch.Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement neuronal_charge")

    def init_tensor(self, data: torch.Tensor) -> None:
        self.v = torch.zeros_like(data)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        self._check_input(x_seq)
        self.init_tensor(x_seq[0])
        self._next_rl_step(self.cn is not None)
        vs = []
        for t in range(self.T):
            x = x_seq[t]
            if self.is_training:
                noise = self.cn[:, t] if self.cn is not None else self.eps_seq[self.noise_step][t]
                x = x + self.sigma * noise.to(x)
            self.neuronal_charge(x)
            vs.append(self.v)
        return decode_potentials(torch.stack(vs), self.decode)

    def reset_noise(self, num_rl_step: int) -> None:
        """Draw the noise of the next ``num_rl_step`` RL steps."""
        self.eps_seq = _noise_sequences(self.beta, self.num_node, num_rl_step, self.T)
        self.noise_step = -1

    def get_colored_noise(self) -> torch.Tensor:
        return self.eps_seq[self.noise_step]

    def load_colored_noise(self, cn: torch.Tensor) -> None:
        self.cn = cn

    def cancel_load(self) -> None:
        self.cn = None


class NoisyNonSpikingIFNode(NoisyNonSpikingBaseNode):
    """Noisy non-spiking IF readout: V ← V + X."""

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.v = self.v + x
