"""Complementary LIF (CLIF, SpikingJelly 2.0): a soft-reset LIF with a complementary potential M that raises the
reset after recent spikes. The reset is not the shared one, so CLIF runs the torch step function in both modes."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sj.functional.neuron_steps import clif_step
from sj.neuron.node import BaseNode
from sj.surrogate import Rect, heaviside


class ComplementaryLIFNode(BaseNode):
    """H = V − V/τ + X; S = f(H − V_th); M ← M·σ(H/τ) + S; V ← H − S·(V_th + σ(M)).

    In evaluation mode a spiking surrogate is replaced by the step Θ (as SpikingJelly does).

    Args:
        tau: time constant (> 1). v_threshold: threshold. surrogate_function: default ``Rect(alpha=1.0)``.
        store_state_seqs: in ``'m'`` keep ``state_seqs = [v_seq, m_seq]`` (``[T, N, *]`` each).
    """

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0, surrogate_function: Callable | None = None,
                 step_mode: str = "s", store_state_seqs: bool = False) -> None:
        if isinstance(tau, bool) or not isinstance(tau, int | float) or not tau > 1.0:
            raise ValueError(f"ComplementaryLIFNode: tau must be a number > 1, got {tau!r}")
        super().__init__(v_threshold, None, surrogate_function or Rect(alpha=1.0), False, step_mode, False)
        self.tau = float(tau)
        self.register_memory("m", 0.0)
        self.store_state_seqs = store_state_seqs

    @property
    def store_state_seqs(self) -> bool:
        return self._store_state_seqs

    @store_state_seqs.setter
    def store_state_seqs(self, value: bool) -> None:
        self._store_state_seqs = bool(value)
        self.state_seqs = None

    def reset(self) -> None:
        super().reset()
        self.state_seqs = None

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        v, m = super().materialize_states(inputs, states, step_mode)
        if not isinstance(m, torch.Tensor) or m.shape != v.shape:
            m = torch.full_like(v, float(m) if not isinstance(m, torch.Tensor) else 0.0)
        return v, m.to(dtype=v.dtype, device=v.device)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        sg = self.surrogate_function
        spike_fn = sg if self.training or not getattr(sg, "spiking", False) else heaviside
        spike, v, m = clif_step(inputs[0], *states, self.tau, self.v_threshold, spike_fn)
        return (spike,), (v, m)

    def _v_seq_source(self):
        return None  # CLIF records state_seqs instead

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not self._store_state_seqs:
            return super().multi_step_forward(x_seq)
        self._check_rank(x_seq, multi=True)
        states = self.materialize_states((x_seq,), tuple(self._memories.values()), "m")
        spikes, vs, ms = [], [], []
        for x in x_seq:
            (s,), states = self.single_step_functional_forward((x,), states)
            spikes.append(s)
            vs.append(states[0])
            ms.append(states[1])
        self._store_states(states, "single_step_functional_forward")
        self.state_seqs = [torch.stack(vs), torch.stack(ms)]
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", tau={self.tau}"
