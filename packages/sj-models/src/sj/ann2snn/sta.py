"""The pieces of SpikingJelly 2.0's spatio-temporal approximation (STA) transformer conversion (Jiang et al., ICLR
2024) that the TD operators do not already provide (:class:`~sj.ann2snn.recipes.sta_transformer.STATransformerRecipe`):

- :class:`STAConstant`: a tensor the ANN holds (class token, position embeddings) as a sequence that carries it at the
  first step only, so that, summed over time, it is counted once;
- :class:`STASpikeEncoder`: a multi-threshold signed integrate-and-fire encoder, ``trunc(mem/θ)·θ`` per step, that
  turns an analog activation (after a layer norm, a GELU, an attention) into multiples of a per-channel step θ;
- :func:`sta_threshold`: θ from calibration activations, by the largest magnitude or a mean-squared-error search.

Both modules run inside a converted graph (time-folded in step mode ``'m'``, see :mod:`sj.ann2snn.operators`) or on
their own (``'s'``: one step; ``'m'``: ``[T, ...]``).
"""

from __future__ import annotations

import torch
from torch import nn

from sj.ann2snn.modules import TimeContext
from sj.base import MemoryModule, StepModeError

__all__ = ["STAConstant", "STASpikeEncoder", "sta_threshold"]

# MSE search: candidate thresholds max|x|·f for 31 factors f evenly spaced in [1/8, 2] (SpikingJelly's grid)
_MSE_FACTORS = torch.linspace(0.125, 2.0, steps=31).tolist()


def sta_threshold(x: torch.Tensor, time_steps: int, channel_dim: int = -1, mode: str = "mse",
                  eps: float = 1e-6) -> torch.Tensor:
    """The per-channel step θ of an :class:`STASpikeEncoder` for activations ``x`` over ``time_steps`` steps.

    ``'max'``: ``max|x| / T``. ``'mse'``: ``c / T`` for the clipping value ``c = max|x|·f`` (factors ``f`` in
    ``[1/8, 2]``) whose quantization ``trunc(x·T/c)·c/T`` has the smallest mean squared error (the first on ties).
    Magnitudes are clamped to at least ``eps``; half-precision inputs are computed in float32.
    """
    if x.dim() < 2:
        raise ValueError(f"STA calibration needs activations of rank >= 2, got shape {tuple(x.shape)}")
    if not -x.dim() <= channel_dim < x.dim():
        raise ValueError(f"STA calibration: channel_dim {channel_dim} is out of range for shape {tuple(x.shape)}")
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    values = x.movedim(channel_dim, 0).reshape(x.shape[channel_dim], -1)
    max_abs = values.abs().amax(1).clamp(min=eps)
    if mode == "max":
        return max_abs / time_steps
    if mode != "mse":
        raise ValueError(f"STA threshold mode must be 'mse' or 'max', got {mode!r}")
    best, best_error = max_abs, torch.full_like(max_abs, float("inf"))
    for factor in _MSE_FACTORS:
        clip = (max_abs * factor).clamp(min=eps)
        step = clip[:, None] / time_steps
        error = (values - torch.trunc(values / step) * step).square().mean(1)
        better = error < best_error
        best, best_error = torch.where(better, clip, best), torch.where(better, error, best_error)
    return best / time_steps


class _Timed(MemoryModule):
    """A stateful module of a converted graph: ``time`` (a :class:`TimeContext`) is set when the graph is
    time-folded, and its step mode ``'m'`` then takes and returns the folded batch ``[T·N, ...]``."""

    def __init__(self, step_mode: str) -> None:
        super().__init__(step_mode)
        self.time: TimeContext | None = None


class STASpikeEncoder(_Timed):
    """Signed multi-threshold IF encoder: ``mem ← mem + x``; emits ``trunc(mem/θ)·θ`` (any number of steps θ, either
    sign, rounded toward zero) and subtracts it. θ is ``v_threshold`` (a buffer, one value per channel along
    ``channel_dim``, clamped to the dtype's epsilon). Summed over time the output tracks the summed input within θ.

    Input ``[N, *]`` ('s') or ``[T, N, *]`` ('m'; the folded ``[T·N, *]`` inside a converted graph).
    """

    def __init__(self, threshold: torch.Tensor, channel_dim: int = -1, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.channel_dim = channel_dim
        self.register_buffer("v_threshold", torch.as_tensor(threshold).detach().clone())
        self.register_memory("mem", None)

    def _threshold(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.channel_dim] = self.v_threshold.numel()
        theta = self.v_threshold.to(device=x.device, dtype=x.dtype).view(shape)
        return theta.clamp(min=torch.finfo(theta.dtype).eps)

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        x = inputs[0] if step_mode == "s" else inputs[0][0]
        mem = states[0]
        if mem is None or mem.shape != x.shape or mem.device != x.device or mem.dtype != x.dtype:
            mem = torch.zeros_like(x)
        return (mem,)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        theta = self._threshold(inputs[0])
        mem = states[0] + inputs[0]
        spike = torch.trunc(mem / theta) * theta
        return (spike,), (mem - spike,)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.time is None:
            return super().multi_step_forward(x_seq)
        return super().multi_step_forward(self.time.unfold(x_seq, "STASpikeEncoder")).flatten(0, 1)

    def extra_repr(self) -> str:
        return f"channel_dim={self.channel_dim}, step_mode={self.step_mode}"


class STAConstant(_Timed):
    """A tensor of the ANN (``value``: a parameter stays a parameter, anything else becomes a buffer) as a sequence:
    ``value`` at the first step after a reset, zeros after. Called without arguments.

    Step mode ``'s'``: one step, ``value``'s shape. ``'m'`` inside a converted graph: the folded ``[T·N, *rest]`` for
    a ``value`` of shape ``[1, *rest]`` (a leading batch dimension of size 1, as a class token or position
    embeddings have); on its own: ``[time_steps, *value.shape]``.
    """

    def __init__(self, value: torch.Tensor, time_steps: int, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        self.time_steps = int(time_steps)
        if isinstance(value, nn.Parameter):
            self.value = nn.Parameter(value.detach().clone(), requires_grad=value.requires_grad)
        else:
            self.register_buffer("value", value.detach().clone())
        self.register_memory("t", 0)

    def single_step_forward(self) -> torch.Tensor:
        out = self.value if self.t == 0 else torch.zeros_like(self.value)
        self.t += 1
        return out

    def multi_step_forward(self) -> torch.Tensor:
        if self.time is None:
            seq = self.value.new_zeros(self.time_steps, *self.value.shape)
        else:
            if self.value.dim() == 0 or self.value.shape[0] != 1:
                raise StepModeError(f"STAConstant of shape {tuple(self.value.shape)}: step mode 'm' needs a leading "
                                    "batch dimension of size 1 to spread over the folded batch; use step mode 's'")
            if self.time.T is None or self.time.N is None:
                raise StepModeError("STAConstant: no sequence is running; in step mode 'm' call the converted "
                                    "network itself with [T, N, *] input")
            seq = self.value.new_zeros(self.time.T, self.time.N, *self.value.shape[1:])
        if self.t == 0:
            seq[0] = self.value if self.time is None else self.value.expand_as(seq[0])
        self.t += seq.shape[0]
        return seq if self.time is None else seq.flatten(0, 1)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.value.shape)}, time_steps={self.time_steps}, step_mode={self.step_mode}"
