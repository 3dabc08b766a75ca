"""SpikingJelly 2.0's teaching interface: neurons written as three Python methods, charge → fire → reset.

A subclass of :class:`SimpleBaseNode` overrides :meth:`~SimpleBaseNode.neuronal_charge` (which sets ``self.v`` to the
charged potential); firing and reset are SpikingJelly's. Everything runs in plain torch (autograd differentiates it);
multi-step mode loops the step. For speed, declare the neuron instead (:doc:`/custom_neuron`): the declaration gets
the fused multi-step kernels of every backend.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sj.base import MemoryModule
from sj.surrogate import Sigmoid


class SimpleBaseNode(MemoryModule):
    """A neuron defined by :meth:`neuronal_charge`; ``v`` starts at 0.

    Args:
        v_threshold: firing threshold. v_reset: hard-reset potential; ``None`` selects soft reset (V ← V − V_th·S).
        surrogate_function: the spike function (any callable; default a fresh ``Sigmoid()``).
        detach_reset: detach the spike inside the reset. step_mode: ``'s'`` (``[N, *]``) or ``'m'`` (``[T, N, *]``).
    """

    def __init__(self, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_function: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 detach_reset: bool = False, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.v_threshold = v_threshold
        self.v_reset = v_reset
        self.surrogate_function = Sigmoid() if surrogate_function is None else surrogate_function
        self.detach_reset = detach_reset
        self.register_memory("v", 0.0)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step: charge, fire, reset; returns the spike."""
        self.neuronal_charge(x)
        spike = self.neuronal_fire()
        self.neuronal_reset(spike)
        return spike

    def neuronal_charge(self, x: torch.Tensor) -> None:
        """Set ``self.v`` to the charged potential from the input step ``x`` (a subclass defines it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement neuronal_charge")

    def neuronal_fire(self) -> torch.Tensor:
        """The spike ``surrogate_function(v − v_threshold)``."""
        return self.surrogate_function(self.v - self.v_threshold)

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        """Hard reset to ``v_reset`` where ``spike`` is 1, or soft reset (``v_reset is None``)."""
        s = spike.detach() if self.detach_reset else spike
        if self.v_reset is None:
            self.v = self.v - self.v_threshold * s
        else:
            self.v = s * self.v_reset + (1.0 - s) * self.v

    def extra_repr(self) -> str:
        return (f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
                f"step_mode={self.step_mode}")


class SimpleIFNode(SimpleBaseNode):
    """Integrate-and-fire, the teaching form: V ← V + X."""

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.v = self.v + x


class SimpleLIFNode(SimpleBaseNode):
    """Leaky integrate-and-fire, the teaching form: V ← V + (V_reset − V + X)/τ (``decay_input=False``:
    V + (V_reset − V)/τ + X; V_reset counts as 0 in soft reset)."""

    def __init__(self, tau: float, decay_input: bool, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_function: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 detach_reset: bool = False, step_mode: str = "s") -> None:
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode)
        self.tau = tau
        self.decay_input = decay_input

    def neuronal_charge(self, x: torch.Tensor) -> None:
        rest = 0.0 if self.v_reset is None else self.v_reset
        if self.decay_input:
            self.v = self.v + (rest - self.v + x) / self.tau
        else:
            self.v = self.v + (rest - self.v) / self.tau + x

    def extra_repr(self) -> str:
        return super().extra_repr() + f", tau={self.tau}, decay_input={self.decay_input}"
