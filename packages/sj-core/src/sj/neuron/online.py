"""Online-training LIF neurons (SpikingJelly 2.0): OTTT and SLTT train a network step by step with memory constant in
T. In training mode the membrane entering each step is detached, so no autograd graph spans time steps: the caller
runs the network one step at a time (``step_mode='s'``, the only mode), takes a loss and calls backward per step (or
accumulates), and what autograd keeps never grows with T. In evaluation mode they are LIF neurons with Θ spikes.

- :class:`OTTTLIFNode` (online training through time) also returns, in training, a presynaptic trace
  (``trace ← trace·(1 − 1/τ) + spike``, no gradient) that OTTT's layers use for their weight update.
- :class:`SLTTLIFNode` (spatial learning through time) is the LIF neuron alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sj.base import StepModeError
from sj.functional.neuron_steps import lif_step
from sj.neuron.declared import LIFNode
from sj.neuron.node import ParamValue
from sj.surrogate import SurrogateFunction, heaviside


class _OnlineLIFNode(LIFNode):
    def __init__(self, tau: ParamValue, decay_input: bool, v_threshold: ParamValue, v_reset: ParamValue | None,
                 surrogate_function: SurrogateFunction | None, detach_reset: bool, step_mode: str,
                 store_v_seq: bool) -> None:
        if step_mode != "s":
            raise StepModeError(f"{type(self).__name__} trains online, one step per call: use step_mode='s'")
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         store_v_seq)
        self.__dict__["_path"] = "functional"

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("s",)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        v = states[0].detach() if self.training else states[0]
        spike_fn: Callable = self.surrogate_function if self.training else heaviside
        s, v = lif_step(inputs[0], v, self.tau, self.decay_input, self.v_threshold, self.v_reset, spike_fn,
                        self.detach_reset)
        return (s,), (v, *states[1:])


class OTTTLIFNode(_OnlineLIFNode):
    """LIF for online training through time: in training, ``forward`` returns ``[spike, trace]``; in evaluation the
    spike. Defaults as SpikingJelly: ``decay_input=False``, soft reset, ``detach_reset=True``."""

    def __init__(self, tau: ParamValue = 2.0, decay_input: bool = False, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = None, surrogate_function: SurrogateFunction | None = None,
                 detach_reset: bool = True, step_mode: str = "s", store_v_seq: bool = False) -> None:
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         store_v_seq)
        self.register_memory("trace", None)

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        v, trace = super().materialize_states(inputs, states, step_mode)
        if self.training and trace is None:
            trace = torch.zeros_like(v)
        return v, trace

    @staticmethod
    def track_trace(spike: torch.Tensor, trace: torch.Tensor, tau) -> torch.Tensor:
        """``trace·(1 − 1/τ) + spike``, outside autograd."""
        with torch.no_grad():
            return trace * (1.0 - 1.0 / tau) + spike

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        (s,), (v, trace) = super().single_step_functional_forward(inputs, states, **kwargs)
        if not self.training:
            return (s,), (v, trace)
        trace = self.track_trace(s, trace, self.tau)
        return (s, trace), (v, trace)

    def single_step_forward(self, x: torch.Tensor):
        out = super().single_step_forward(x)
        return list(out) if isinstance(out, tuple) else out


class SLTTLIFNode(_OnlineLIFNode):
    """LIF for spatial learning through time (defaults: ``decay_input=True``, hard reset, ``detach_reset=True``)."""

    def __init__(self, tau: ParamValue = 2.0, decay_input: bool = True, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SurrogateFunction | None = None,
                 detach_reset: bool = True, step_mode: str = "s", store_v_seq: bool = False) -> None:
        super().__init__(tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, step_mode,
                         store_v_seq)
