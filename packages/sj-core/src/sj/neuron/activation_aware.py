"""Activation-aware IF (SpikingJelly 2.0, for ANN→SNN conversion): IF whose firing is shifted by a per-channel offset
and whose threshold may be per channel: S = f(H + offset − V_th), reset by V_th (soft, default) or to ``v_reset``.
Runs the torch step function in both modes (in multi-step mode without gradients the values equal SpikingJelly's
inference kernel)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from sj.base import MemoryModule
from sj.functional.neuron_steps import activation_aware_if_step
from sj.surrogate import Sigmoid


def _per_channel(name: str, value) -> torch.Tensor:
    t = torch.as_tensor(value).detach().clone()
    if t.dim() > 1:
        raise ValueError(f"ActivationAwareIFNode: {name} must be a number or a 1-D tensor, got shape {tuple(t.shape)}")
    return t if t.is_floating_point() else t.float()


class ActivationAwareIFNode(MemoryModule):
    """Args: v_threshold (> 0) and v_offset: numbers or one value per channel; channel_dim: the channel dimension
    of a step ``[N, *]`` (default −1). Others as :class:`~sj.neuron.IFNode` (default soft reset)."""

    def __init__(self, v_threshold: float | torch.Tensor = 1.0, v_offset: float | torch.Tensor = 0.0,
                 channel_dim: int = -1, v_reset: float | None = None, surrogate_function: Callable | None = None,
                 detach_reset: bool = False, step_mode: str = "s", store_v_seq: bool = False) -> None:
        threshold, offset = _per_channel("v_threshold", v_threshold), _per_channel("v_offset", v_offset)
        if not torch.isfinite(threshold).all() or not (threshold > 0).all():
            raise ValueError("ActivationAwareIFNode: v_threshold must be finite and positive")
        if not torch.isfinite(offset).all():
            raise ValueError("ActivationAwareIFNode: v_offset must be finite")
        if v_reset is not None and (isinstance(v_reset, bool) or not isinstance(v_reset, int | float)):
            raise ValueError(f"ActivationAwareIFNode: v_reset must be a number or None, got {v_reset!r}")
        if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
            raise ValueError(f"ActivationAwareIFNode: channel_dim must be an int, got {channel_dim!r}")
        super().__init__(step_mode)
        self.register_buffer("v_threshold", threshold)
        self.register_buffer("v_offset", offset)
        self.channel_dim, self.v_reset, self.detach_reset = channel_dim, v_reset, bool(detach_reset)
        self.surrogate_function = Sigmoid() if surrogate_function is None else surrogate_function
        self.register_memory("v", 0.0 if v_reset is None else float(v_reset))
        self.store_v_seq = store_v_seq

    @property
    def store_v_seq(self) -> bool:
        return self._store_v_seq

    @store_v_seq.setter
    def store_v_seq(self, value: bool) -> None:
        self._store_v_seq = bool(value)
        self.v_seq = None

    def reset(self) -> None:
        super().reset()
        self.v_seq = None

    def _broadcast(self, p: torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
        p = p.to(device=x.device, dtype=x.dtype)
        if p.dim() == 0:
            return p
        dim = self.channel_dim + x.dim() if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < x.dim() or p.numel() != x.shape[dim]:
            raise ValueError(f"ActivationAwareIFNode: {name} has {p.numel()} values but the input step "
                             f"{tuple(x.shape)} has no dimension {self.channel_dim} of that size")
        shape = [1] * x.dim()
        shape[dim] = p.numel()
        return p.view(shape)

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        x = inputs[0][0] if step_mode == "m" else inputs[0]
        v = states[0]
        if not isinstance(v, torch.Tensor) or v.shape != x.shape:
            v = torch.full_like(x, float(v) if not isinstance(v, torch.Tensor) else (self.v_reset or 0.0))
        return (v.to(dtype=x.dtype, device=x.device),)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        x = inputs[0]
        s, v = activation_aware_if_step(x, states[0], self._broadcast(self.v_threshold, x, "v_threshold"),
                                        self._broadcast(self.v_offset, x, "v_offset"), self.v_reset,
                                        self.surrogate_function, self.detach_reset)
        return (s,), (v,)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        states = self.materialize_states((x_seq,), tuple(self._memories.values()), "m")
        spikes, vs = [], []
        for x in x_seq:
            (s,), states = self.single_step_functional_forward((x,), states)
            spikes.append(s)
            vs.append(states[0])
        self._store_states(states, "single_step_functional_forward")
        self.v_seq = torch.stack(vs) if self._store_v_seq else None
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return (f"v_threshold_shape={tuple(self.v_threshold.shape)}, v_offset_shape={tuple(self.v_offset.shape)}, "
                f"channel_dim={self.channel_dim}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
                f"step_mode={self.step_mode}")
