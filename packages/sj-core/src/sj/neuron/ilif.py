"""I-LIF (integer LIF, SpikingJelly 2.0): a soft-reset LIF whose spike is a count of up to ``max_spike_count`` per
step, trained straight-through inside a window; runs the torch step function in both step modes."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sj.functional.neuron_steps import ilif_step, multi_level_spike_count
from sj.neuron.node import BaseNode


class SpikeCount(nn.Module):
    """I-LIF's default spike function: ``round(clamp(x, 0, max_spike_count))`` with gradient 1 inside
    ``[grad_min, grad_max]`` (SpikingJelly's ``MultiLevelSpikeCount(max_spike_count)``; default window
    ``[0, max_spike_count]``)."""

    def __init__(self, max_spike_count: int = 4, grad_window: tuple[float, float] | None = None) -> None:
        super().__init__()
        if isinstance(max_spike_count, bool) or not isinstance(max_spike_count, int) or max_spike_count < 1:
            raise ValueError(f"SpikeCount: max_spike_count must be an integer >= 1, got {max_spike_count!r}")
        self.max_spike_count = max_spike_count
        self.grad_min, self.grad_max = (0.0, float(max_spike_count)) if grad_window is None else map(float,
                                                                                                     grad_window)
        if self.grad_min > self.grad_max:
            raise ValueError("SpikeCount: grad_window must satisfy grad_min <= grad_max")
        self.spiking = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return multi_level_spike_count(x, self.max_spike_count, (self.grad_min, self.grad_max))


class ILIFNode(BaseNode):
    """I-LIF: H = V − V/τ + X; spike count S = f(H/V_th) (default :class:`SpikeCount` (4)); V ← H − S·V_th.

    Args:
        tau: time constant (> 1, default 4/3). surrogate_function: the count function (anything with SpikingJelly's
            ``MultiLevelSpikeCount`` attributes, or a callable). Others as :class:`~sj.neuron.LIFNode`.
    """

    def __init__(self, tau: float = 4.0 / 3.0, v_threshold: float = 1.0, surrogate_function: Callable | None = None,
                 detach_reset: bool = False, step_mode: str = "s", store_v_seq: bool = False) -> None:
        if isinstance(tau, bool) or not isinstance(tau, int | float) or not tau > 1.0:
            raise ValueError(f"ILIFNode: tau must be a number > 1, got {tau!r}")
        if surrogate_function is not None and getattr(surrogate_function, "spiking", True) is False:
            raise ValueError("ILIFNode: surrogate_function must be a spiking spike count")
        super().__init__(v_threshold, None, surrogate_function or SpikeCount(), detach_reset, step_mode, store_v_seq)
        self.tau = float(tau)
        self.decay_input = False

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        s, v = ilif_step(inputs[0], states[0], self.tau, self.v_threshold, self.surrogate_function,
                         self.detach_reset)
        return (s,), (v, *states[1:])

    def extra_repr(self) -> str:
        return super().extra_repr() + f", tau={self.tau}"
