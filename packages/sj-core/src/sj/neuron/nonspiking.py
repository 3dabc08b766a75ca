"""Non-spiking neurons: membranes that never fire, read out as potentials (SpikingJelly 2.0's ``NonSpiking*``).

In multi-step mode every call is one whole sequence, as in SpikingJelly: the membrane starts from rest (0, or
``v_reset``) at each call, so no ``reset_net`` is needed between sequences, and the potentials ``[T, N, *]`` are decoded
by ``decode``:

==================  ==================================================================
``None``            the potentials ``[T, N, *]`` (SpikingJelly returns a Python list of T tensors)
``'max-mem'``       the maximum over time
``'max-abs-mem'``   the value of largest magnitude over time (the minimum when both have the same magnitude)
``'mean-mem'``      the mean over time
``'last-mem'``      the last step (also spelled ``'last_mem'`` and ``'last-me'``, SpikingJelly's two spellings)
==================  ==================================================================
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sj.base import MultiStepModule, StepModeError
from sj.neuron import builtin
from sj.neuron.declared import LIFNode
from sj.neuron.node import ABOVE_ONE, BaseNode, ParamValue

_LAST = ("last-mem", "last_mem", "last-me")
DECODES = (None, "max-mem", "max-abs-mem", "mean-mem", *_LAST)


def check_decode(owner: str, decode: str | None) -> str | None:
    """Return ``decode`` if it is one of :data:`DECODES` (``None`` or a decoding named in the module docstring), else
    raise ``ValueError`` naming ``owner`` (the neuron class) and the accepted values."""
    if decode not in DECODES:
        raise ValueError(f"{owner}: decode must be one of {DECODES}, got {decode!r}")
    return decode


def decode_potentials(v_seq: torch.Tensor, decode: str | None) -> torch.Tensor:
    """Decode potentials ``[T, N, *]`` as ``decode`` says (module docstring)."""
    if decode is None:
        return v_seq
    if decode == "max-mem":
        return v_seq.max(0).values
    if decode == "max-abs-mem":
        high, low = v_seq.max(0).values, v_seq.min(0).values
        return torch.where(high.abs() > low.abs(), high, low)
    if decode == "mean-mem":
        return v_seq.mean(0)
    return v_seq[-1]


class NonSpikingBaseNode(nn.Module, MultiStepModule):
    """SpikingJelly's base of non-spiking neurons defined by ``neuronal_charge(x)`` (which updates ``self.v``):
    ``forward(x_seq [T, N, *])`` starts ``v`` at 0, charges step by step and returns the decoded potentials."""

    def __init__(self, decode: str | None = None) -> None:
        super().__init__()
        self.decode = check_decode(type(self).__name__, decode)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement neuronal_charge")

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2 or x_seq.shape[0] == 0:
            raise StepModeError(f"{type(self).__name__} needs a sequence [T, N, *] with T >= 1, got "
                                f"{getattr(x_seq, 'shape', type(x_seq).__name__)}")
        self.v = torch.zeros_like(x_seq[0])
        steps = []
        for x in x_seq:
            self.neuronal_charge(x)
            steps.append(self.v)
        return decode_potentials(torch.stack(steps), self.decode)


class _NonSpikingNode(BaseNode):
    """A declared membrane with an infinite threshold (so the spike and reset terms vanish) that outputs V: in
    ``'m'`` a whole sequence from rest per call, decoded; in ``'s'`` one step (stateful until ``reset_net``)."""

    def __init__(self, decl, params: dict, decode: str | None, v_reset: ParamValue, step_mode: str, backend: str,
                 **kwargs) -> None:
        if v_reset is None:
            raise ValueError(f"{type(self).__name__}: v_reset is the resting potential here and cannot be None")
        BaseNode.__init__(self, decl, params, v_threshold=math.inf, v_reset=v_reset, step_mode=step_mode,
                          backend=backend, store_v_seq=True, **kwargs)
        self.decode = check_decode(type(self).__name__, decode)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.decode is not None:
            raise StepModeError(f"{type(self).__name__}: decode={self.decode!r} needs whole sequences "
                                "(step_mode='m')")
        self.advance(x)
        return self.v

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        self.reset()  # every call is one whole sequence (SpikingJelly)
        super().multi_step_forward(x_seq)
        return decode_potentials(self.v_seq, self.decode)


class NonSpikingIFNode(_NonSpikingNode):
    """Non-spiking IF: V ← V + X, read out as potentials (module docstring). ``v_reset``: where V starts."""

    def __init__(self, decode: str | None = None, *, v_reset: ParamValue = 0.0, step_mode: str = "m",
                 backend: str = "auto") -> None:
        super().__init__(builtin.IF, {}, decode, v_reset, step_mode, backend)


class NonSpikingLIFNode(_NonSpikingNode, LIFNode):
    """Non-spiking LIF: V ← V + (X − (V − V_reset))/τ (``decay_input=False``: V − (V − V_reset)/τ + X), read out as
    potentials (module docstring); a readout layer. ``v_reset``: the resting potential, where V starts."""

    def __init__(self, tau: ParamValue = 2.0, decode: str | None = None, *, decay_input: bool = True,
                 v_reset: ParamValue = 0.0, step_mode: str = "m", backend: str = "auto") -> None:
        self.decay_input = bool(decay_input)
        super().__init__(builtin.LIF if decay_input else builtin.LIF_NO_DECAY_INPUT, {"tau": tau}, decode, v_reset,
                         step_mode, backend, bounds={"tau": ABOVE_ONE})
