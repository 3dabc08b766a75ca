"""Dropout whose mask is drawn once and shared over time until :meth:`reset` (SpikingJelly semantics), and
DropConnect.

Sharing the mask over time drops the same neurons at every step of a sequence: a dropped neuron sees no input in the
whole sample, which is what dropout means for a recurrent-in-time network. Masks are drawn by torch's own dropout
(``F.dropout`` / ``F.dropout2d`` on ones), as SpikingJelly draws them, so a seeded run draws the same masks from the
same random state.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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

    def draw_mask(self, ones: torch.Tensor) -> torch.Tensor:
        """A mask of kept (``1/(1 − p)``) and dropped (0) entries, drawn by torch's dropout on ``ones``."""
        return F.dropout(ones, self.p, training=True)

    def _mask_for(self, x: torch.Tensor) -> torch.Tensor:
        shape = self.mask_shape(x)
        if self.mask is None:
            self.mask = self.draw_mask(torch.ones(shape, device=x.device, dtype=x.dtype))
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

    Args: as :class:`Dropout` (default ``p=0.2`` as SpikingJelly). The mask is ``[N, C, 1, 1]``; torch's
    ``F.dropout2d`` draws one value per channel whatever H and W are, so it consumes the random state as SpikingJelly's
    full-size mask does.
    """

    def __init__(self, p: float = 0.2, step_mode: str = "s") -> None:
        super().__init__(p, step_mode)

    def mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        if x.dim() != 4:
            raise StepModeError(f"Dropout2d needs [N, C, H, W] per step ([T, N, C, H, W] in 'm'), got a step of shape "
                                f"{tuple(x.shape)}")
        return (x.shape[0], x.shape[1], 1, 1)

    def draw_mask(self, ones: torch.Tensor) -> torch.Tensor:
        return F.dropout2d(ones, self.p, training=True)


_RELU = nn.ReLU()  # SpikingJelly's default activation (one shared, stateless instance)


class DropConnectLinear(MemoryModule):
    """Linear layer whose connections are dropped with probability ``p`` (DropConnect, Wan et al., 2013).

    Training: every sample of the batch gets its own mask of the weight (and bias), kept entries are *not* rescaled;
    ``y = activation(W_mask · x + b_mask)``. Evaluation: each output is averaged over ``samples_num`` draws of the
    Gaussian that matches the dropped pre-activation's mean ``(1 − p)·(W·x + b)`` and variance
    ``p(1 − p)·(W²·x² + b²)``, passed through ``activation`` (Algorithm 2 of the paper).

    Args:
        in_features, out_features: sizes of ``x`` ``[N, in_features]`` and ``y`` ``[N, out_features]`` per step.
        bias: learn an additive bias. Default ``True``.
        p: drop probability of each connection in ``[0, 1)``. Default 0.5.
        samples_num: Gaussian samples per output in evaluation. Default 1024.
        invariant: keep the masks of the first call until :meth:`reset` (as :class:`Dropout`); ``False`` (default)
            draws new masks at every call (every step).
        activation: module applied to the pre-activation (default ``nn.ReLU()``; ``None``: identity). Part of the
            layer because evaluation averages *after* it.
        step_mode: ``'s'`` (``[N, in]``) or ``'m'`` (``[T, N, in]``, looped over steps).

    Memories: the masks ``mask_w`` ``[N, out, in]`` and ``mask_b`` ``[N, out]`` (the weights are multiplied at each
    call, so an optimizer step between calls is seen); ``dropped_w``/``dropped_b`` give the masked parameters.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, p: float = 0.5,
                 samples_num: int = 1024, invariant: bool = False, activation: nn.Module | None = _RELU,
                 step_mode: str = "s") -> None:
        super().__init__(step_mode)
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"DropConnectLinear: p must be in [0, 1), got {p}")
        if int(samples_num) < 1:
            raise ValueError(f"DropConnectLinear: samples_num must be ≥ 1, got {samples_num}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.register_parameter("bias", nn.Parameter(torch.empty(self.out_features)) if bias else None)
        self.reset_parameters()
        self.p, self.samples_num, self.invariant = float(p), int(samples_num), bool(invariant)
        self.activation = activation
        self.register_memory("mask_w", None)
        self.register_memory("mask_b", None)

    def reset_parameters(self) -> None:
        """:class:`torch.nn.Linear`'s initialisation (same draws in the same order)."""
        nn.Linear.reset_parameters(self)

    @property
    def dropped_w(self) -> torch.Tensor | None:
        """The weight as the current masks see it ``[N, out, in]`` (``None`` before the first training call)."""
        return None if self.mask_w is None else self.weight * self.mask_w

    @property
    def dropped_b(self) -> torch.Tensor | None:
        """The bias as the current masks see it ``[N, out]`` (``None`` without bias or masks)."""
        return None if self.mask_b is None or self.bias is None else self.bias * self.mask_b

    def _draw_masks(self, batch_size: int) -> None:
        def keep(shape: tuple[int, ...]) -> torch.Tensor:
            return torch.rand((batch_size, *shape), device=self.weight.device, dtype=self.weight.dtype) >= self.p

        self.mask_w = keep(tuple(self.weight.shape))
        self.mask_b = keep(tuple(self.bias.shape)) if self.bias is not None else None

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise StepModeError(f"DropConnectLinear needs [N, {self.in_features}] per step ([T, N, "
                                f"{self.in_features}] in 'm'), got a step of shape {tuple(x.shape)}")
        if self.training:
            if not self.invariant or self.mask_w is None:
                self._draw_masks(x.shape[0])
            elif self.mask_w.shape[0] != x.shape[0]:
                raise StateShapeError(f"DropConnectLinear: the masks are for a batch of {self.mask_w.shape[0]} but "
                                      f"this step has {x.shape[0]}; call sj.functional.reset_net(net) first")
            y = torch.bmm(self.dropped_w, x.unsqueeze(-1)).squeeze(-1)
            if self.bias is not None:
                y = y + self.dropped_b
            return y if self.activation is None else self.activation(y)
        mean = (1.0 - self.p) * F.linear(x, self.weight, self.bias)
        var = self.p * (1.0 - self.p) * F.linear(x.square(), self.weight.square(),
                                                 None if self.bias is None else self.bias.square())
        shape = (self.samples_num, *mean.shape)
        with torch.no_grad():
            samples = torch.normal(mean.expand(shape), var.sqrt().expand(shape))
        if self.activation is not None:
            samples = self.activation(samples)
        return samples.mean(0)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"p={self.p}, invariant={self.invariant}, step_mode={self.step_mode}")
