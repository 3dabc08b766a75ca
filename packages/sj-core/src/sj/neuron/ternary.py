"""Ternary neurons (SpikingJelly 2.0): spikes +1 above V_th and −1 below −V_th, for signed activations. Not a
declaration (two thresholds), so they run the torch step function in both step modes."""

from __future__ import annotations

import math
from collections.abc import Callable

from sj.functional.neuron_steps import ternary_if_step, ternary_lif_step
from sj.neuron.node import BaseNode


def _check(owner: str, v_threshold: float, v_reset: float | None) -> None:
    if isinstance(v_threshold, bool) or not isinstance(v_threshold, int | float) or not math.isfinite(v_threshold) \
            or v_threshold <= 0:
        raise ValueError(f"{owner}: v_threshold must be a finite positive number, got {v_threshold!r}")
    if v_reset is not None and (isinstance(v_reset, bool) or not isinstance(v_reset, int | float)
                                or not -v_threshold < v_reset < v_threshold):
        raise ValueError(f"{owner}: v_reset must be None or a number strictly between −v_threshold and v_threshold, "
                         f"got {v_reset!r}")


class TernaryIFNode(BaseNode):
    """Ternary IF: H = V + X; S = Θ(H − V_th) − Θ(−H − V_th) ∈ {−1, 0, 1}; soft reset V = H − S·V_th, hard reset
    V = V_reset after either spike. Arguments as :class:`~sj.neuron.IFNode`."""

    def __init__(self, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_function: Callable | None = None, detach_reset: bool = False, step_mode: str = "s",
                 store_v_seq: bool = False) -> None:
        _check(type(self).__name__, v_threshold, v_reset)
        super().__init__(float(v_threshold), v_reset, surrogate_function, detach_reset, step_mode, store_v_seq)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        s, v = ternary_if_step(inputs[0], states[0], self.v_threshold, self.v_reset, self.surrogate_function,
                               self.detach_reset)
        return (s,), (v, *states[1:])


class TernaryLIFNode(BaseNode):
    """Ternary LIF: the LIF charge (``tau`` > 1, ``decay_input``) with :class:`TernaryIFNode`'s spikes and reset."""

    def __init__(self, tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, surrogate_function: Callable | None = None, detach_reset: bool = False,
                 step_mode: str = "s", store_v_seq: bool = False) -> None:
        _check(type(self).__name__, v_threshold, v_reset)
        if isinstance(tau, bool) or not isinstance(tau, int | float) or not math.isfinite(tau) or tau <= 1.0:
            raise ValueError(f"{type(self).__name__}: tau must be a finite number > 1, got {tau!r}")
        super().__init__(float(v_threshold), v_reset, surrogate_function, detach_reset, step_mode, store_v_seq)
        self.tau, self.decay_input = float(tau), bool(decay_input)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        s, v = ternary_lif_step(inputs[0], states[0], self.tau, self.decay_input, self.v_threshold, self.v_reset,
                                self.surrogate_function, self.detach_reset)
        return (s,), (v, *states[1:])

    def extra_repr(self) -> str:
        return super().extra_repr() + f", tau={self.tau}, decay_input={self.decay_input}"
