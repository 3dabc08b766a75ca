"""Gated LIF (GLIF, SpikingJelly 2.0): learnable gates mix leak, input conductance and reset per channel; a fixed
number of steps ``T`` (one conductance per step), multi-step mode only; a torch loop over time."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from sj.base import MemoryModule, StepModeError
from sj.functional.neuron_steps import gated_lif_step
from sj.surrogate import Sigmoid


def _logit(p: float) -> float:
    return -math.log(1.0 / p - 1.0)


class GatedLIFNode(MemoryModule):
    """GLIF over ``[T, N, C, *]`` (``C = inplane`` channels; scalar gates when ``inplane`` is ``None``).

    Every parameter is learned through a sigmoid: gates α, β, γ (initial logits uniform in ±0.1), τ (initial
    ``init_tau`` < 1), threshold, linear decay (default V_th/(2T)), sub-reset (default V_th) and one conductance per
    step (``init_conduct``). See :func:`sj.functional.gated_lif_step` for the update.
    """

    def __init__(self, T: int, inplane: int | None = None, init_linear_decay: float | None = None,
                 init_v_subreset: float | None = None, init_tau: float = 0.25, init_v_threshold: float = 0.5,
                 init_conduct: float = 0.5, surrogate_function: Callable | None = None, step_mode: str = "m") -> None:
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"GatedLIFNode: T must be a positive integer, got {T!r}")
        if inplane is not None and (isinstance(inplane, bool) or not isinstance(inplane, int) or inplane < 1):
            raise ValueError(f"GatedLIFNode: inplane must be None or a positive integer, got {inplane!r}")
        init_linear_decay = init_v_threshold / (T * 2) if init_linear_decay is None else init_linear_decay
        init_v_subreset = init_v_threshold if init_v_subreset is None else init_v_subreset
        for name, p in (("init_tau", init_tau), ("init_v_threshold", init_v_threshold), ("init_conduct", init_conduct),
                        ("init_linear_decay", init_linear_decay), ("init_v_subreset", init_v_subreset)):
            if not 0.0 < p < 1.0:
                raise ValueError(f"GatedLIFNode: {name} must be in (0, 1) (it is learned through a sigmoid), got {p}")
        super().__init__(step_mode)
        self.surrogate_function = Sigmoid() if surrogate_function is None else surrogate_function
        self.T = T
        self.register_memory("v", 0.0)
        self.register_memory("u", 0.0)
        shape = () if inplane is None else (inplane,)
        self.alpha, self.beta, self.gamma = (nn.Parameter(0.2 * (torch.rand(shape) - 0.5)) for _ in range(3))
        self.tau = nn.Parameter(torch.full(shape, _logit(init_tau)))
        self.v_threshold = nn.Parameter(torch.full(shape, _logit(init_v_threshold)))
        self.linear_decay = nn.Parameter(torch.full(shape, _logit(init_linear_decay)))
        self.v_subreset = nn.Parameter(torch.full(shape, _logit(init_v_subreset)))
        self.conduct = nn.Parameter(torch.full((T, *shape), _logit(init_conduct)))

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        v = states[0]
        if not isinstance(v, torch.Tensor):
            v = torch.full_like(inputs[0][0], float(v))
        return v, states[1]

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        x_seq, v = inputs[0], states[0]
        if x_seq.dim() < 3 or x_seq.shape[0] != self.T:
            raise StepModeError(f"GatedLIFNode(T={self.T}) needs input [T={self.T}, N, C, *], got shape "
                                f"{tuple(x_seq.shape)}")
        step_shape = (1, -1, *([1] * (x_seq.dim() - 3)))  # per channel (dimension 1 of a step)
        gate = lambda p: torch.sigmoid(p).reshape(step_shape)  # noqa: E731
        alpha, beta, gamma, tau = gate(self.alpha), gate(self.beta), gate(self.gamma), gate(self.tau)
        v_threshold, decay, subreset = gate(self.v_threshold), gate(self.linear_decay), gate(self.v_subreset)
        spike = torch.zeros_like(x_seq[0])
        spikes = []
        for t in range(self.T):
            spike, v = gated_lif_step(x_seq[t], v, spike, alpha, beta, gamma, tau, v_threshold, decay, subreset,
                                      gate(self.conduct[t]), self.surrogate_function)
            spikes.append(spike)
        return (torch.stack(spikes),), (v, v)

    def extra_repr(self) -> str:
        return f"T={self.T}, step_mode={self.step_mode}"
