"""Small helpers: a debugging pass-through, and the pair that trades time steps for binary event slots."""

from __future__ import annotations

import logging

import torch
from torch import nn

from sj.base import StepModeError, StepModule

_log = logging.getLogger("sj.layer")


class PrintShapeModule(nn.Module):
    """Identity that logs ``ext_str`` and the input's shape at DEBUG level (logger ``"sj.layer"``), for debugging.

    Args:
        ext_str: text logged before the shape. Default ``"PrintShapeModule"``.
    """

    def __init__(self, ext_str: str = "PrintShapeModule") -> None:
        super().__init__()
        self.ext_str = ext_str

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _log.debug("%s shape=%s", self.ext_str, tuple(x.shape))
        return x

    def extra_repr(self) -> str:
        return f"ext_str={self.ext_str!r}"


class MultiStepOnly(StepModule):
    """Mixin of modules that take whole sequences only: ``step_mode`` is always ``'m'``."""

    def supported_step_modes(self) -> tuple[str, ...]:
        return ("m",)


class _SlotTransform(MultiStepOnly, nn.Module):
    """Multi-step module that acts in evaluation (or always, with ``always_convert``) and is the identity in
    training otherwise."""

    def __init__(self, num_slots: int, always_convert: bool = False) -> None:
        super().__init__()
        if isinstance(num_slots, bool) or not isinstance(num_slots, int) or num_slots < 1:
            raise ValueError(f"{type(self).__name__}: num_slots must be an int ≥ 1, got {num_slots!r}")
        self.num_slots = num_slots
        self.always_convert = bool(always_convert)
        self.step_mode = "m"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.training and not self.always_convert:
            return x_seq
        if x_seq.dim() < 2 or x_seq.shape[0] == 0:
            raise StepModeError(f"{type(self).__name__} needs a sequence [T, N, *] with T > 0, got shape "
                                f"{tuple(x_seq.shape)}")
        if not x_seq.dtype.is_floating_point:
            raise TypeError(f"{type(self).__name__}: input must be floating point, got {x_seq.dtype}")
        return self.convert(x_seq)

    def convert(self, x_seq: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"num_slots={self.num_slots}, always_convert={self.always_convert}"


class SpikeCountToBinary(_SlotTransform):
    """Expand spike counts into binary event slots: ``[T, N, *]`` counts in ``{0, …, num_slots}`` →
    ``[T·num_slots, N, *]`` spikes, the first ``count`` slots of each step set.

    The gradient of each slot with respect to its count is ``1/num_slots`` (straight-through): a bias-free weight layer
    applied to every slot and :class:`TemporalBinSum` after it then give exactly the forward values and gradients of the
    weight layer applied to the counts. Put bias, normalisation and non-linearities after the sum.

    Args:
        num_slots: slots per step (≥ 1).
        always_convert: expand in training too; by default training returns the counts unchanged and evaluation
            expands.

    Raises ``ValueError`` for counts that are not whole numbers in ``[0, num_slots]`` (checked outside
    ``torch.compile``).
    """

    def convert(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not torch.compiler.is_compiling() and x_seq.numel():
            bad = (x_seq < 0) | (x_seq > self.num_slots) | (x_seq != x_seq.round())
            if bad.any():
                raise ValueError(f"SpikeCountToBinary: counts must be whole numbers in [0, {self.num_slots}], got "
                                 f"{x_seq[bad].flatten()[0].item()!r}")
        counts = x_seq.unsqueeze(1)  # [T, 1, N, *]
        slots = torch.arange(self.num_slots, device=x_seq.device).view(1, -1, *([1] * (x_seq.dim() - 1)))
        spikes = (slots < counts).to(x_seq.dtype)
        share = counts / self.num_slots
        return (spikes + (share - share.detach())).flatten(0, 1)  # the value of spikes, the gradient of share


class TemporalBinSum(_SlotTransform):
    """Sum every ``num_slots`` consecutive steps: ``[T, N, *]`` → ``[⌈T/num_slots⌉, N, *]`` (a last, incomplete bin is
    padded with zeros). The inverse partner of :class:`SpikeCountToBinary` (same ``num_slots`` and
    ``always_convert``).

    Args: as :class:`SpikeCountToBinary`.
    """

    def convert(self, x_seq: torch.Tensor) -> torch.Tensor:
        short = -x_seq.shape[0] % self.num_slots
        if short:
            x_seq = torch.cat((x_seq, x_seq.new_zeros((short, *x_seq.shape[1:]))))
        return x_seq.unflatten(0, (-1, self.num_slots)).sum(1)
