"""Neurons with intra-layer connections (ILC, SpikingJelly 2.0, population-coded RL): a population of
``act_dim × dec_pop_dim`` neurons whose spikes at step t feed step t + 1 through a grouped ``Conv1d`` (each action's
population sees its own spikes). Multi-step only; the membrane starts at ``v_reset`` at every call (no state across
calls). Input and output ``[T, N, act_dim·dec_pop_dim]``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sj.base import MultiStepModule, StepModeError
from sj.surrogate import Rect


def _check_population(owner: str, act_dim: int, dec_pop_dim: int) -> None:
    for name, value in (("act_dim", act_dim), ("dec_pop_dim", dec_pop_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


class _ChargeFireReset:
    """Charge (subclass), fire on V − V_th, reset (hard to ``v_reset`` or soft) on ``self.v``."""

    def neuronal_charge(self, x: torch.Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement neuronal_charge")

    def neuronal_fire(self) -> torch.Tensor:
        return self.surrogate_function(self.v - self.v_threshold)

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        if self.v_reset is None:
            self.v = self.v - spike * self.v_threshold
        else:
            self.v = (1.0 - spike) * self.v + spike * self.v_reset

    def init_tensor(self, data: torch.Tensor) -> None:
        """Start the membrane (and any other state) for a sequence whose steps look like ``data``."""
        self.v = torch.full_like(data, 0.0 if self.v_reset is None else self.v_reset)


class ILCBaseNode(_ChargeFireReset, nn.Module, MultiStepModule):
    """The ILC population: ``conn`` is ``Conv1d(act_dim, act_dim·dec_pop_dim, dec_pop_dim, groups=act_dim)``."""

    def __init__(self, act_dim: int, dec_pop_dim: int, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_function: Callable | None = None) -> None:
        _check_population(type(self).__name__, act_dim, dec_pop_dim)
        super().__init__()
        self.act_dim, self.dec_pop_dim, self.out_pop_dim = act_dim, dec_pop_dim, act_dim * dec_pop_dim
        self.conn = nn.Conv1d(act_dim, self.out_pop_dim, dec_pop_dim, groups=act_dim)
        self.v_threshold, self.v_reset = v_threshold, v_reset
        self.surrogate_function = Rect() if surrogate_function is None else surrogate_function

    def _lateral(self, spike: torch.Tensor) -> torch.Tensor:
        return self.conn(spike.view(-1, self.act_dim, self.dec_pop_dim)).view(-1, self.out_pop_dim)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2 or x_seq.shape[-1] != self.out_pop_dim:
            raise StepModeError(f"{type(self).__name__} needs input [T, N, {self.out_pop_dim}], got "
                                f"{tuple(getattr(x_seq, 'shape', ()))}")
        self.init_tensor(x_seq[0].detach())
        spikes, lateral = [], None
        for t, x in enumerate(x_seq):  # x_seq is not modified (SpikingJelly adds the lateral input into it in place)
            self.neuronal_charge(x if lateral is None else x + lateral)
            spike = self.neuronal_fire()
            self.neuronal_reset(spike)
            spikes.append(spike)
            lateral = self._lateral(spike) if t + 1 < len(x_seq) else None
        return torch.stack(spikes)


class ILCIFNode(ILCBaseNode):
    """ILC population of IF neurons: V ← V + X."""

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.v = self.v + x


class ILCLIFNode(ILCBaseNode):
    """ILC population of LIF neurons: V ← V·v_decay + X."""

    def __init__(self, act_dim: int, dec_pop_dim: int, v_decay: float = 0.75, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, surrogate_function: Callable | None = None) -> None:
        super().__init__(act_dim, dec_pop_dim, v_threshold, v_reset, surrogate_function)
        self.v_decay = v_decay

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.v = self.v * self.v_decay + x


class _CUBACharge:
    """C ← C·c_decay + X; V ← V·v_decay + C (C starts at 0)."""

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.c = self.c * self.c_decay + x
        self.v = self.v * self.v_decay + self.c

    def init_tensor(self, data: torch.Tensor) -> None:
        self.c = torch.zeros_like(data)
        super().init_tensor(data)


class ILCCUBALIFNode(_CUBACharge, ILCBaseNode):
    """ILC population of current-based LIF neurons (:class:`~sj.neuron.CUBALIFNode`'s charge)."""

    def __init__(self, act_dim: int, dec_pop_dim: int, c_decay: float = 0.5, v_decay: float = 0.75,
                 v_threshold: float = 0.5, v_reset: float | None = 0.0, surrogate_function: Callable | None = None
                 ) -> None:
        super().__init__(act_dim, dec_pop_dim, v_threshold, v_reset, surrogate_function)
        self.c_decay, self.v_decay = c_decay, v_decay
