"""SpikeZIP's signed-threshold bounded IF (STBIF, SpikingJelly 2.0): the inference neuron that replaces a quantized
activation (``level`` levels, scale ``q_threshold``) after ANN→SNN conversion; over time its spikes (±q_threshold)
sum to the quantized value. Inference only (no gradients)."""

from __future__ import annotations

import torch
from torch import nn

from sj.base import MemoryModule
from sj.functional.neuron_steps import stbif_multi_step, stbif_step


def _scalar(value) -> torch.Tensor:
    return (value if torch.is_tensor(value) else torch.tensor(value)).detach().clone().float()


class STBIFNode(MemoryModule):
    """STBIF with scale ``q_threshold`` and accumulated-count bounds ``[neg_min, pos_max]`` (defaults from ``level``
    and ``sym``: ``[0, level − 1]``, or ``[−level/2, level/2 − 1]`` when symmetric). States: the residual ``q``
    (starts at 0.5), the accumulated count ``acc_q`` and the last step's count ``cur_output``."""

    def __init__(self, q_threshold, level: int, sym: bool = False, pos_max=None, neg_min=None,
                 step_mode: str = "s") -> None:
        if isinstance(level, bool) or int(level) < 2:
            raise ValueError(f"STBIFNode: level must be an integer >= 2, got {level!r}")
        super().__init__(step_mode)
        self.level, self.sym = int(level), bool(sym)
        self.register_buffer("q_threshold", _scalar(q_threshold))
        self.register_buffer("pos_max", _scalar((self.level // 2 - 1 if self.sym else self.level - 1)
                                                if pos_max is None else pos_max))
        self.register_buffer("neg_min", _scalar((-self.level // 2 if self.sym else 0) if neg_min is None else neg_min))
        for name in ("q", "acc_q", "cur_output"):
            self.register_memory(name, None)

    @classmethod
    def from_quantizer(cls, quantizer: nn.Module) -> STBIFNode:
        """The STBIF replacing ``quantizer`` (with attributes ``s``, ``sym``, ``pos_max``, ``neg_min``, optionally
        ``level``)."""
        level = getattr(quantizer, "level", int(_scalar(quantizer.pos_max)) - int(_scalar(quantizer.neg_min)) + 1)
        return cls(quantizer.s, level=int(level), sym=bool(quantizer.sym), pos_max=quantizer.pos_max,
                   neg_min=quantizer.neg_min)

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        x = inputs[0] if step_mode == "s" else inputs[0][0]
        q, acc_q, cur_output = states
        if q is None or q.shape != x.shape:
            return torch.full_like(x, 0.5), torch.zeros_like(x), torch.zeros_like(x)
        return q.to(x), acc_q.to(x), cur_output.to(x)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        out, *states = stbif_step(inputs[0], *states[:2], self.q_threshold, self.pos_max, self.neg_min)
        return (out,), tuple(states)

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        out, *states = stbif_multi_step(inputs[0], *states[:2], self.q_threshold, self.pos_max, self.neg_min)
        return (out,), tuple(states)

    @property
    def accumulated(self) -> torch.Tensor:
        """The value emitted so far, ``acc_q · q_threshold``."""
        if self.acc_q is None:
            raise RuntimeError("STBIFNode has no accumulated state before its first forward")
        return self.acc_q * self.q_threshold.to(self.acc_q.dtype)
