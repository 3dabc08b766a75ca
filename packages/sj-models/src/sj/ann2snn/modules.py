"""The modules a converted network is made of.

A ReLU becomes ``VoltageScaler(1/λ) → IF (soft reset, V_th = 1) → VoltageScaler(λ)`` (:class:`SpikingReLU`), where λ
is the activation scale calibrated on data (a number, or one per channel). The converted graph runs on a *time-folded*
batch ``[T·N, *]``: every stateless operation of the ANN (convolution, linear, pooling, addition, concatenation,
flatten, ...) applies to all steps at once, and each IF neuron unfolds its input to ``[T, N, *]`` and runs the fused
multi-step op (:func:`sj.ops.multistep`, so every backend applies), then folds its spikes back.
:class:`ConvertedSNN` does the folding at the boundary: input ``[T, N, *]`` → output ``[T, N, *]``.
"""

from __future__ import annotations

import torch
from torch import nn

from sj.base import StepModeError
from sj.neuron import BaseNode, IFNode


class VoltageScaler(nn.Module):
    """Multiply the input by a fixed ``scale`` (a number, or a per-channel tensor broadcastable to one step of input,
    e.g. ``[C, 1, 1]`` for ``[N, C, H, W]``). The scale is a buffer (it follows ``.to()`` and ``state_dict``)."""

    def __init__(self, scale: float | torch.Tensor) -> None:
        super().__init__()
        t = torch.as_tensor(scale, dtype=torch.get_default_dtype()).detach().clone()
        if not torch.isfinite(t).all():
            raise ValueError(f"VoltageScaler: scale must be finite, got {scale}")
        self.register_buffer("scale", t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype)

    def extra_repr(self) -> str:
        s = self.scale
        return f"scale={s.item():.6g}" if s.dim() == 0 else f"scale=Tensor{tuple(s.shape)}"


class TimeFoldedNeuron(nn.Module):
    """Run a neuron in multi-step mode on a time-folded batch: ``[T·N, *]`` → ``[T, N, *]`` → neuron → ``[T·N, *]``.

    ``T`` is set by the owning :class:`ConvertedSNN` before every call (attribute ``T``, default 1). The neuron keeps
    its state between calls, so feeding a sequence in chunks equals feeding it at once (until
    :func:`sj.functional.reset_net`).
    """

    def __init__(self, node: BaseNode) -> None:
        super().__init__()
        if not isinstance(node, BaseNode):
            raise TypeError(f"TimeFoldedNeuron: node must be an sj.neuron.BaseNode, got {type(node).__name__}")
        node.step_mode = "m"
        self.node = node
        self.T = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tn = x.shape[0]
        if tn % self.T:
            raise StepModeError(f"TimeFoldedNeuron: the folded batch {tn} is not a multiple of T={self.T}; the "
                                "converted graph must keep the batch as its first dimension")
        return self.node(x.unflatten(0, (self.T, tn // self.T))).flatten(0, 1)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class SpikingReLU(nn.Sequential):
    """``VoltageScaler(1/λ) → IF(V_th=1, soft reset) → VoltageScaler(λ)``: the spiking counterpart of a ReLU whose
    activations were normalised by ``λ = scale`` (> 0; a number or a per-channel tensor broadcastable to one step of
    input). Its firing rate times λ approximates ``clamp(relu(x), max=λ)``.

    Args:
        scale: λ.
        backend: multi-step backend of the IF neuron (see ``sj backends``; change later with
            :func:`sj.functional.set_backend`).
    """

    def __init__(self, scale: float | torch.Tensor, backend: str = "torch") -> None:
        s = torch.as_tensor(scale, dtype=torch.get_default_dtype())
        if not (s > 0).all() or not torch.isfinite(s).all():
            raise ValueError(f"SpikingReLU: scale must be finite and > 0, got {scale}")
        super().__init__(VoltageScaler(1.0 / s), TimeFoldedNeuron(IFNode(v_threshold=1.0, v_reset=None,
                                                                          backend=backend)), VoltageScaler(s))

    @property
    def scale(self) -> torch.Tensor:
        """λ (the output scaler's factor)."""
        return self[2].scale

    @property
    def neuron(self) -> BaseNode:
        return self[1].node


class ConvertedSNN(nn.Module):
    """A converted network: ``forward(x_seq)`` maps ``[T, N, *]`` to ``[T, N, *out]`` (any ``T``; tuple/list outputs
    are unfolded element-wise). Outputs are per step; their mean over time approximates the ANN's output.

    Stateful: call :func:`sj.functional.reset_net` between independent sequences (or use :meth:`run_static`).

    Attributes:
        net: the converted :class:`torch.fx.GraphModule` working on the folded batch ``[T·N, *]``.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def folded_neurons(self) -> list[TimeFoldedNeuron]:
        return [m for m in self.modules() if isinstance(m, TimeFoldedNeuron)]

    def _time_aware(self) -> list[nn.Module]:
        from sj.ann2snn.pooling import AccumulatedMaxPool

        return [m for m in self.modules() if isinstance(m, (TimeFoldedNeuron, AccumulatedMaxPool))]

    def neurons(self) -> list[BaseNode]:
        """The IF neurons, in graph order."""
        return [m.node for m in self.folded_neurons()]

    def scales(self) -> list[torch.Tensor]:
        """The calibrated activation scale λ of every spiking ReLU, in graph order."""
        return [m.scale for m in self.modules() if isinstance(m, SpikingReLU)]

    def forward(self, *x_seqs: torch.Tensor):
        if not x_seqs:
            raise TypeError("ConvertedSNN: expected at least one input [T, N, *]")
        for x in x_seqs:
            if not isinstance(x, torch.Tensor) or x.dim() < 2:
                got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise StepModeError(f"ConvertedSNN: inputs must be time-first sequences [T, N, *], got {got}")
        T, N = x_seqs[0].shape[:2]
        if any(tuple(x.shape[:2]) != (T, N) for x in x_seqs):
            raise StepModeError(f"ConvertedSNN: all inputs must share [T, N]; got {[tuple(x.shape) for x in x_seqs]}")
        for m in self._time_aware():
            m.T = T
        out = self.net(*(x.flatten(0, 1) for x in x_seqs))
        return _unfold(out, T, N)

    @torch.no_grad()
    def run_static(self, x: torch.Tensor, T: int) -> torch.Tensor:
        """Feed the static input ``x`` ``[N, *]`` as a constant current for ``T`` steps (direct coding), from a reset
        state, and return the per-step outputs ``[T, N, *out]``. The network is reset before and after."""
        if int(T) < 1:
            raise ValueError(f"run_static: T must be ≥ 1, got {T}")
        from sj.functional import reset_net

        reset_net(self)
        try:
            return self(x.unsqueeze(0).expand(int(T), *x.shape))
        finally:
            reset_net(self)


def _unfold(out, T: int, N: int):
    if isinstance(out, torch.Tensor):
        return out.unflatten(0, (T, N))
    if isinstance(out, (tuple, list)):
        return type(out)(_unfold(o, T, N) for o in out)
    if isinstance(out, dict):
        return {k: _unfold(v, T, N) for k, v in out.items()}
    return out
