"""Stateless and stateful modules for NIR nodes that sj.layer has no class for (step-mode aware).

Element-wise modules (:class:`Scale`, :class:`Threshold`) broadcast their per-element array from the right, so they
work unchanged on ``[N, *]`` and ``[T, N, *]``. :class:`SumPool2d` folds time like ``sj.layer``'s pools.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sj.base import MemoryModule, StateShapeError, StepModeError, StepModule
from sj.layer import SeqFoldMixin


class _ElementWise(nn.Module, StepModule):
    def __init__(self, name: str, value: torch.Tensor, step_mode: str) -> None:
        super().__init__()
        self.register_buffer(name, torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone())
        self.step_mode = step_mode


class Scale(_ElementWise):
    """NIR ``Scale``: ``y = x ⊙ scale`` with ``scale`` shaped like one sample (``[*]``)."""

    def __init__(self, scale: torch.Tensor, step_mode: str = "s") -> None:
        super().__init__("scale", scale, step_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype)


class Threshold(_ElementWise):
    """NIR ``Threshold``: ``y = Θ(x − threshold)``; ``strict`` fires on ``x > threshold`` (NIR spec), else ``≥``."""

    def __init__(self, threshold: torch.Tensor, strict: bool = True, step_mode: str = "s") -> None:
        super().__init__("threshold", threshold, step_mode)
        self.strict = bool(strict)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        th = self.threshold.to(x.dtype)
        return (x > th if self.strict else x >= th).to(x.dtype)

    def extra_repr(self) -> str:
        return f"strict={self.strict}, step_mode={self.step_mode}"


class _SumPool2d(nn.Module):
    def __init__(self, kernel_size, stride, padding) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = tuple(kernel_size), tuple(stride), tuple(padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, divisor_override=1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class SumPool2d(SeqFoldMixin, _SumPool2d):
    """NIR ``SumPool2d``: the sum over each window (zero padding). Input ``[N, C, H, W]`` / ``[T, N, C, H, W]``."""

    sample_ranks = (4,)
    layout = "[N, C, H, W]"


class ElementDelay(MemoryModule):
    """NIR ``Delay`` with a per-element delay: ``y[t][i] = x[t − d_i][i]`` (0 before the stream reaches it).

    Args:
        delay_steps: integer delays ``≥ 0`` shaped like one sample (``[*]``).
    """

    def __init__(self, delay_steps: torch.Tensor, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        d = torch.as_tensor(delay_steps)
        if d.dtype.is_floating_point or (d < 0).any():
            raise ValueError(f"ElementDelay: delay_steps must be integers ≥ 0, got {delay_steps}")
        self.register_buffer("delay_steps", d.long())
        self.register_memory("history", None)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        depth = int(self.delay_steps.max()) + 1
        if self.history is None:
            self.history = x.new_zeros((depth, *x.shape))
        elif self.history.shape[1:] != x.shape:
            raise StateShapeError(f"ElementDelay: stored steps have shape {tuple(self.history.shape[1:])} but the "
                                  f"input step has {tuple(x.shape)}; call sj.functional.reset_net(net) first")
        self.history = torch.cat((self.history[1:], x.unsqueeze(0)))  # newest last
        index = (depth - 1 - self.delay_steps).expand_as(x).unsqueeze(0)
        return self.history.gather(0, index)[0]

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() < 2:
            raise StepModeError(f"ElementDelay in step_mode='m' needs input [T, N, *], got shape {tuple(x_seq.shape)}")
        return super().multi_step_forward(x_seq)
