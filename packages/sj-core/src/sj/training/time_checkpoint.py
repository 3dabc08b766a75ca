"""Memory-bounded BPTT: run a multi-step network over segments of time and recompute each segment in backward.

Plain BPTT keeps every layer's activations for all T steps, so memory grows linearly with T. :class:`TimeCheckpoint`
runs the wrapped network ``segment_length`` steps at a time under :func:`torch.utils.checkpoint.checkpoint`: forward
keeps only each segment's input slice and the network state (membrane potentials and other memories) at the segment
boundaries; backward recomputes one segment at a time. Peak activation memory becomes about one segment's worth plus
one state per boundary, for one extra forward pass of compute. Forward outputs are identical and gradients equal the
plain run up to floating-point summation order (float64: ~1e-15 relative).
"""

from __future__ import annotations

import torch
from torch import nn

from sj.base import StepModeError, StepModule
from sj.memopt.checkpointing import run_chunks


class TimeCheckpoint(nn.Module, StepModule):
    """Wrap a multi-step network (input ``[T, N, *]`` → output ``[T, N, *]``) to recompute time segments in backward.

    Args:
        module: the network, in ``step_mode='m'``. It must be causal in time and carry information between steps only
            through sj memories (neuron states, delays, dropout masks...), which is what sj networks do. Layers that
            mix time steps inside one call are not allowed to see only a segment: a ``BatchNorm`` in training mode
            (statistics over T·N, and running statistics that recomputation would update twice) raises ``ValueError``
            at forward — put it in eval mode, use ``GroupNorm``, or keep it outside the wrapper.
        segment_length: time steps per segment (≥ 1). Around √T balances stored boundary states against the segment
            recomputed in backward. The last segment may be shorter.

    The memories of ``module`` end in the same state as after a plain forward and are not changed by backward (each
    recomputation restores them). Forward hooks run again during recomputation, so a monitor attached inside the
    wrapper records each segment twice when training.
    """

    def __init__(self, module: nn.Module, segment_length: int) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"TimeCheckpoint: module must be an nn.Module, got {type(module).__name__}")
        if isinstance(segment_length, bool) or not isinstance(segment_length, int) or segment_length < 1:
            raise ValueError(f"TimeCheckpoint: segment_length must be an int >= 1, got {segment_length!r}")
        self.module = module
        self.segment_length = segment_length
        self._step_mode = "m"

    def supported_step_modes(self) -> tuple[str, ...]:
        return ("m",)

    def extra_repr(self) -> str:
        return f"segment_length={self.segment_length}"

    def _check_time_mixing(self) -> None:
        for name, m in self.module.named_modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
                raise ValueError(
                    f"TimeCheckpoint: {type(m).__name__} {name!r} is in training mode: it normalises with statistics "
                    "over the steps it is given (a segment, not the whole sequence) and recomputation would update "
                    "its running statistics twice; call .eval() on it, use GroupNorm, or move it outside the wrapper")

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``x_seq`` ``[T, N, *]`` → the wrapped module's output ``[T, N, *]`` (concatenated over segments)."""
        if not isinstance(x_seq, torch.Tensor):
            raise TypeError(f"TimeCheckpoint: input must be a torch.Tensor, got {type(x_seq).__name__}")
        if x_seq.dim() < 2 or x_seq.shape[0] == 0:
            raise StepModeError(f"TimeCheckpoint needs multi-step input [T, N, *] with T >= 1, got shape "
                                f"{tuple(x_seq.shape)}")
        self._check_time_mixing()
        if not torch.is_grad_enabled():  # nothing to save: one plain call
            return self.module(x_seq)
        return run_chunks(self.module, (x_seq,), {}, {0: x_seq.split(self.segment_length)})
