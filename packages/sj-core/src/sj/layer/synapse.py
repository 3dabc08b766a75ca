"""Stateful synapses: an exponential current filter and a fixed transmission delay."""

from __future__ import annotations

import math

import torch
from torch import nn

from sj.base import MemoryModule, StateShapeError, StepModeError, check_state_recordable
from sj.functional.layer_steps import synapse_filter_step


class SynapseFilter(MemoryModule):
    """Synaptic current that decays between input spikes and jumps by the spike (SpikingJelly's update):
    ``I[t] = I[t−1] − (1 − x[t])·I[t−1]/τ + x[t]``, ``I[−1] = 0``; outputs ``I[t]``.

    For a spike input ``x[t] ∈ {0, 1}`` the current decays by ``1/τ`` on silent steps and grows by exactly 1 (without
    decay) on spiking steps. Real-valued inputs follow the same formula.

    Args:
        tau: time constant in steps (> 1). Default 100.
        learnable: learn ``1/τ = σ(w)`` (``w`` an ``nn.Parameter``). Default ``False``.
        step_mode: ``'s'`` (``[N, *]``) or ``'m'`` (``[T, N, *]``).
    """

    def __init__(self, tau: float = 100.0, learnable: bool = False, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if not float(tau) > 1.0:
            raise ValueError(f"SynapseFilter: tau must be > 1, got {tau}")
        self.learnable = bool(learnable)
        if self.learnable:
            self.w = nn.Parameter(torch.tensor(-math.log(float(tau) - 1.0)))
        else:
            self.tau = float(tau)
        self.register_memory("out_i", 0.0)

    def inv_tau(self) -> torch.Tensor | float:
        """``1/τ`` (a tensor when learnable)."""
        return torch.sigmoid(self.w) if self.learnable else 1.0 / self.tau

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = self.out_i
        if isinstance(prev, torch.Tensor) and prev.shape != x.shape:
            raise StateShapeError(f"SynapseFilter: state has shape {tuple(prev.shape)} but the input step has "
                                  f"{tuple(x.shape)}; call sj.functional.reset_net(net) first")
        check_state_recordable("SynapseFilter", "out_i", prev, x, *self.parameters())
        self.out_i = synapse_filter_step(x, prev, self.inv_tau())
        return self.out_i

    def extra_repr(self) -> str:
        tau = 1.0 / self.inv_tau().item() if self.learnable else self.tau
        return f"tau={tau:g}, learnable={self.learnable}, step_mode={self.step_mode}"


class Delay(MemoryModule):
    """Delay a signal by a whole number of steps: ``y[t] = x[t − delay_steps]`` and ``y[t] = 0`` for
    ``t < delay_steps`` after a reset.

    Args:
        delay_steps: delay ``d ≥ 0`` in steps (0 is the identity).
        step_mode: ``'s'`` (``[N, *]``) or ``'m'`` (``[T, N, *]``). The last ``d`` inputs are kept as a memory
            ``queue`` ``[d, N, *]``, so consecutive calls continue the same stream in either mode.
    """

    def __init__(self, delay_steps: int, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if isinstance(delay_steps, bool) or not isinstance(delay_steps, int) or delay_steps < 0:
            raise ValueError(f"Delay: delay_steps must be an int ≥ 0, got {delay_steps!r}")
        self.delay_steps = delay_steps
        self.register_memory("queue", None)

    @property
    def delay(self) -> int:
        """Alias of ``delay_steps``."""
        return self.delay_steps

    def _queue(self, step: torch.Tensor) -> torch.Tensor:
        if self.queue is None:
            return step.new_zeros((self.delay_steps, *step.shape))
        if self.queue.shape[1:] != step.shape:
            raise StateShapeError(f"Delay: stored steps have shape {tuple(self.queue.shape[1:])} but the input step "
                                  f"has {tuple(step.shape)}; call sj.functional.reset_net(net) first")
        check_state_recordable("Delay", "queue", self.queue, step)
        return self.queue

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() < 2:
            raise StepModeError(f"Delay in step_mode='m' needs input [T, N, *], got shape {tuple(x_seq.shape)}")
        if self.delay_steps == 0:
            return x_seq
        stream = torch.cat((self._queue(x_seq[0]).to(x_seq), x_seq))
        T = x_seq.shape[0]
        self.queue = stream[T:]
        return stream[:T]

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.multi_step_forward(x.unsqueeze(0))[0]

    def extra_repr(self) -> str:
        return f"delay_steps={self.delay_steps}, step_mode={self.step_mode}"
