"""Dropout whose mask is drawn once and shared over time until :meth:`reset` (SpikingJelly semantics).

Sharing the mask over time drops the same neurons at every step of a sequence: a dropped neuron sees no input in the
whole sample, which is what dropout means for a recurrent-in-time network.
"""

from __future__ import annotations

import torch

from sj.base import MemoryModule, StateShapeError, StepModeError, check_state_recordable


class Dropout(MemoryModule):
    """Element-wise dropout with a mask shared over time.

    Args:
        p: drop probability in ``[0, 1)``. Default 0.5. Kept elements are scaled by ``1/(1 − p)``.
        step_mode: ``'s'`` (input ``[N, *]``, the mask is drawn at the first step after a reset) or ``'m'`` (input
            ``[T, N, *]``, one mask for all T steps).

    In eval mode (``.eval()``) it is the identity. The mask is a memory: ``sj.functional.reset_net`` draws a new one
    at the next call.
    """

    # the mask is drawn once per sequence, and drawn again from the same random state when torch.utils.checkpoint
    # recomputes a call that drew it: a recomputation is right from whatever mask the module holds
    recomputes_from_any_state = True

    def __init__(self, p: float = 0.5, step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1), got {p}")
        self.p = float(p)
        self.register_memory("mask", None)

    def extra_repr(self) -> str:
        return f"p={self.p}, step_mode={self.step_mode}"

    def mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        """Shape of the mask for one step ``x`` ``[N, *]`` (broadcast against ``x``)."""
        return tuple(x.shape)

    def _mask_for(self, x: torch.Tensor) -> torch.Tensor:
        shape = self.mask_shape(x)
        if self.mask is None:
            keep = torch.full(shape, 1.0 - self.p, device=x.device, dtype=x.dtype)
            self.mask = torch.bernoulli(keep) / (1.0 - self.p)
        elif tuple(self.mask.shape) != shape:
            raise StateShapeError(f"{type(self).__name__}: the mask has shape {tuple(self.mask.shape)} from the "
                                  f"previous call but this step needs {shape}; call sj.functional.reset_net(net) "
                                  "before a new batch")
        check_state_recordable(type(self).__name__, "mask", self.mask, x)
        return self.mask.to(x)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * self._mask_for(x)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() < 2:
            raise StepModeError(f"{type(self).__name__} in step_mode='m' needs input [T, N, *], got shape "
                                f"{tuple(x_seq.shape)}")
        if not self.training or self.p == 0.0:
            return x_seq
        return x_seq * self._mask_for(x_seq[0])


class Dropout2d(Dropout):
    """Channel dropout (whole feature maps) with a mask shared over time: input ``[N, C, H, W]`` per step.

    Args: as :class:`Dropout` (default ``p=0.2`` as SpikingJelly).
    """

    def __init__(self, p: float = 0.2, step_mode: str = "s") -> None:
        super().__init__(p, step_mode)

    def mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        if x.dim() != 4:
            raise StepModeError(f"Dropout2d needs [N, C, H, W] per step ([T, N, C, H, W] in 'm'), got a step of shape "
                                f"{tuple(x.shape)}")
        return (x.shape[0], x.shape[1], 1, 1)
