"""The modules a converted network is made of.

A ReLU becomes a :class:`SpikingActivation`: ``scaler0 → if_node → scaler1`` (SpikingJelly's names), i.e.
``VoltageScaler(V_th/λ) → IF neuron (soft reset) → VoltageScaler(λ)``, where λ is the activation scale calibrated on
data (a number, or one per channel with :class:`ChannelVoltageScaler`). Its firing rate times λ approximates
``clamp(relu(x), max=λ)``.

Time folding: a converted graph runs every stateless operation of the ANN (convolution, linear, pooling, addition,
concatenation, flatten, ...) on a *time-folded* batch ``[T·N, *]`` when its neurons are in step mode ``'m'``;
each :class:`SpikingActivation` unfolds its input to ``[T, N, *]`` for the scalers and the neuron (so the fused
multi-step op and every backend apply) and folds the result back. :class:`TimeFold` / :class:`TimeUnfold` do this at
the graph's inputs and outputs of a recipe's result (identities in step mode ``'s'``); :class:`ConvertedSNN` does it
around the graph of sj's time-folded converter. ``T`` travels in a shared :class:`TimeContext`.
"""

from __future__ import annotations

import torch
from torch import nn

from sj.base import StepModeError, StepModule
from sj.neuron import IFNode


def _scale_tensor(scale: float | torch.Tensor, owner: str) -> torch.Tensor:
    t = torch.as_tensor(scale).detach().clone()
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if t.device.type != "meta" and not torch.isfinite(t).all():
        raise ValueError(f"{owner}: scale must be finite, got {scale}")
    return t


class VoltageScaler(nn.Module, StepModule):
    """Multiply the input by a fixed ``scale`` (a buffer: it follows ``.to()`` and ``state_dict``): a number, or a
    tensor broadcastable to one step of input (e.g. ``[C, 1, 1]`` for ``[N, C, H, W]``; the same broadcast works on
    ``[T, N, C, H, W]`` in step mode ``'m'``)."""

    def __init__(self, scale: float | torch.Tensor = 1.0, step_mode: str = "s") -> None:
        super().__init__()
        self.register_buffer("scale", _scale_tensor(scale, "VoltageScaler"))
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype)

    def extra_repr(self) -> str:
        s = self.scale
        shown = f"{s.item():f}" if s.dim() == 0 and s.device.type != "meta" else f"Tensor{tuple(s.shape)}"
        return f"{shown}, step_mode={self.step_mode}"


class ChannelVoltageScaler(nn.Module, StepModule):
    """Multiply the input by one positive factor per channel along ``channel_dim`` (of one step's layout
    ``[N, C, *]``; in step mode ``'m'`` the input is ``[T, N, C, *]`` and the same channel is scaled).

    Args:
        scale: a positive number or a 1-D tensor of ``C`` positive factors.
        channel_dim: the channel dimension of one step's input. Default 1.
        step_mode: ``'s'`` or ``'m'``.
    """

    def __init__(self, scale: float | torch.Tensor = 1.0, channel_dim: int = 1, step_mode: str = "s") -> None:
        super().__init__()
        if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
            raise ValueError(f"ChannelVoltageScaler: channel_dim must be int, got {channel_dim!r}")
        t = _scale_tensor(scale, "ChannelVoltageScaler")
        if t.dim() > 1:
            raise ValueError(f"ChannelVoltageScaler: scale must be a scalar or a 1D tensor, got shape {tuple(t.shape)}")
        if t.numel() == 0:
            raise ValueError("ChannelVoltageScaler: scale must not be empty")
        if t.device.type != "meta" and (t <= 0).any():
            raise ValueError(f"ChannelVoltageScaler: scale must contain finite positive values, got {scale}")
        self.register_buffer("scale", t)
        self.channel_dim = channel_dim
        self.step_mode = step_mode

    def _view_scale(self, x: torch.Tensor) -> torch.Tensor:
        """The scale shaped to broadcast against ``x`` (one step, or a sequence in step mode ``'m'``)."""
        if self.scale.dim() == 0:
            return self.scale
        lead = int(self.step_mode == "m")
        rank = x.dim() - lead
        dim = self.channel_dim + rank if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < rank:
            raise ValueError(f"ChannelVoltageScaler: channel_dim={self.channel_dim} is out of range for a "
                             f"{rank}-D step of input (shape {tuple(x.shape)}, step_mode={self.step_mode!r})")
        if x.shape[dim + lead] != self.scale.numel():
            raise ValueError(f"ChannelVoltageScaler: input channel dimension does not match scale length: got "
                             f"{x.shape[dim + lead]} and {self.scale.numel()}")
        shape = [1] * x.dim()
        shape[dim + lead] = self.scale.numel()
        return self.scale.reshape(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self._view_scale(x).to(dtype=x.dtype, device=x.device)

    def extra_repr(self) -> str:
        return f"scale_shape={tuple(self.scale.shape)}, channel_dim={self.channel_dim}, step_mode={self.step_mode}"


class VoltageHook(nn.Module):
    """Calibration observer (SpikingJelly's): passes its input through and, in training mode, updates ``scale`` —
    the largest value (``mode='Max'``), the ``p``-th percentile (``mode='p%'``, ``torch.quantile`` with linear
    interpolation) or a fraction ``f`` in ``(0, 1]`` of the largest value (``mode=f``) of each batch, combined as
    ``scale ← (1 − momentum)·scale + momentum·s`` after the first batch (which sets it). ``num_batches_tracked`` counts
    samples."""

    def __init__(self, scale: float = 1.0, momentum: float = 0.1, mode: str | float = "Max") -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale))
        self.mode = mode
        self.num_batches_tracked = 0
        self.momentum = momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        s = batch_scale(x.detach().reshape(1, -1), self.mode)[0].to(x.dtype)
        self.scale = s if self.num_batches_tracked == 0 else (1 - self.momentum) * self.scale + self.momentum * s
        self.num_batches_tracked += x.shape[0] if x.dim() > 0 else 1
        return x


def batch_scale(values: torch.Tensor, mode: str | float) -> torch.Tensor:
    """One scale per row of ``values`` ``[R, M]`` for a calibration ``mode`` (see :class:`VoltageHook`)."""
    kind, value = parse_scale_mode(mode)
    if kind == "percentile":
        if values.numel() == 0:
            raise ValueError("ann2snn: quantile input must not be empty")
        v = values.float() if values.dtype in (torch.float16, torch.bfloat16) else values
        return torch.quantile(v, value / 100.0, dim=1)
    return values.max(dim=1).values * value


def parse_scale_mode(mode: str | float) -> tuple[str, float]:
    """``('max', 1)``, ``('percentile', p)`` with p in [0, 100] or ``('fraction', f)`` with f in (0, 1]; anything
    else raises ``NotImplementedError`` (SpikingJelly's error for an undefined scale method)."""
    err = (f"You have used a non-defined VoltageScale Method: {mode!r} (use 'Max', a percentile such as '99.9%' or "
           "a float in (0, 1])")
    if isinstance(mode, str):
        if mode.lower() == "max":
            return "max", 1.0
        if mode.endswith("%"):
            try:
                p = float(mode[:-1])
            except ValueError:
                raise NotImplementedError(err) from None
            if 0.0 <= p <= 100.0:
                return "percentile", p
        raise NotImplementedError(err)
    if isinstance(mode, (int, float)) and not isinstance(mode, bool) and 0 < mode <= 1:
        return "fraction", float(mode)
    raise NotImplementedError(err)


class TimeContext:
    """The number of steps ``T`` of the sequence a converted graph is running (set by :class:`TimeFold` or
    :class:`ConvertedSNN`, read by the modules that unfold the folded batch), and its batch size ``N`` (set by
    :class:`TimeFold`, read by modules that make a sequence without an input). A plain object shared by reference."""

    def __init__(self) -> None:
        self.T: int | None = None
        self.N: int | None = None

    def unfold(self, x: torch.Tensor, owner: str) -> torch.Tensor:
        """``[T·N, *]`` → ``[T, N, *]``."""
        if self.T is None:
            raise StepModeError(f"{owner}: no sequence length is set; in step mode 'm' call the converted network "
                                "itself with [T, N, *] input")
        if x.shape[0] % self.T:
            raise StepModeError(f"{owner}: the folded batch {x.shape[0]} is not a multiple of T={self.T}; the "
                                "converted graph must keep the batch as the first dimension of every activation")
        return x.unflatten(0, (self.T, x.shape[0] // self.T))


class TimeFold(nn.Module, StepModule):
    """At a converted graph's input: in step mode ``'m'`` ``[T, N, *]`` → ``[T·N, *]``; in ``'s'`` the identity.

    The graph's first input (``leading=True``) must be a sequence; it sets ``T`` and ``N``. A further input may be a
    sequence ``[T, N, *]`` too, or a static tensor without the time dimension (an attention mask, as SpikingJelly's
    layer-wise multi-step graphs accept): one with the batch first (``[N, *]``) is repeated for every step of the
    folded batch, any other (``[1, *]``, ``[S, S]``, ...) is passed unchanged, to broadcast as it does in the ANN.
    Non-tensor further inputs pass unchanged.
    """

    def __init__(self, time: TimeContext, step_mode: str = "s", leading: bool = True) -> None:
        super().__init__()
        self.time = time
        self.step_mode = step_mode
        self.leading = leading

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return x
        if not self.leading:
            return self._fold_further(x)
        if not isinstance(x, torch.Tensor) or x.dim() < 2:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise StepModeError(f"converted network in step_mode='m': inputs must be [T, N, *], got {got}")
        self.time.T, self.time.N = x.shape[0], x.shape[1]
        return x.flatten(0, 1)

    def _fold_further(self, x):
        T, N = self.time.T, self.time.N
        if not isinstance(x, torch.Tensor) or x.dim() == 0:
            return x
        if x.dim() >= 2 and tuple(x.shape[:2]) == (T, N):
            return x.flatten(0, 1)
        if x.shape[0] == N != 1:
            return x.repeat(T, *([1] * (x.dim() - 1)))
        return x


class TimeUnfold(nn.Module, StepModule):
    """At a converted graph's output: in step mode ``'m'`` ``[T·N, *]`` → ``[T, N, *]``; in ``'s'`` the identity."""

    def __init__(self, time: TimeContext, step_mode: str = "s") -> None:
        super().__init__()
        self.time = time
        self.step_mode = step_mode

    def forward(self, x):
        if self.step_mode == "s" or not isinstance(x, torch.Tensor):
            return x
        return self.time.unfold(x, "TimeUnfold")


class SpikingActivation(nn.Module):
    """``scaler1(if_node(scaler0(x)))``, on the time-folded batch: in step mode ``'m'`` (of ``if_node``) the input
    ``[T·N, *]`` is unfolded to ``[T, N, *]`` (``T`` from ``time``) for the three modules and folded back.

    Args:
        scaler0, if_node, scaler1: the input scaler, the spiking neuron and the output scaler.
        time: the :class:`TimeContext` of the graph (a fresh one by default).
    """

    def __init__(self, scaler0: nn.Module, if_node: nn.Module, scaler1: nn.Module,
                 time: TimeContext | None = None) -> None:
        super().__init__()
        self.scaler0, self.if_node, self.scaler1 = scaler0, if_node, scaler1
        self.time = time or TimeContext()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if getattr(self.if_node, "step_mode", "s") == "s":
            return self.scaler1(self.if_node(self.scaler0(x)))
        return self.scaler1(self.if_node(self.scaler0(self.time.unfold(x, "SpikingActivation")))).flatten(0, 1)


class SpikingReLU(SpikingActivation):
    """``VoltageScaler(1/λ) → IF(V_th=1, soft reset) → VoltageScaler(λ)`` for ``λ = scale`` (> 0; a number or a
    per-channel tensor broadcastable to one step of input), as sj's time-folded converter builds it.

    Args:
        scale: λ.
        backend: multi-step backend of the IF neuron (see ``sj backends``; change later with
            :func:`sj.functional.set_backend`).
    """

    def __init__(self, scale: float | torch.Tensor, backend: str = "torch") -> None:
        s = torch.as_tensor(scale, dtype=torch.get_default_dtype())
        if not (s > 0).all() or not torch.isfinite(s).all():
            raise ValueError(f"SpikingReLU: scale must be finite and > 0, got {scale}")
        super().__init__(VoltageScaler(1.0 / s), IFNode(v_threshold=1.0, v_reset=None, backend=backend),
                         VoltageScaler(s))

    @property
    def scale(self) -> torch.Tensor:
        """λ (the output scaler's factor)."""
        return self.scaler1.scale

    @property
    def neuron(self) -> nn.Module:
        return self.if_node


class ConvertedSNN(nn.Module):
    """The result of sj's time-folded converter (:class:`~sj.ann2snn.converter.Converter` with ``mode=``):
    ``forward(x_seq)`` maps ``[T, N, *]`` to ``[T, N, *out]`` for any ``T`` (tuple/list/dict outputs are unfolded
    element-wise); per-step outputs whose time average approximates the ANN's output.

    Stateful: call :func:`sj.functional.reset_net` between independent sequences (or use :meth:`run_static`).

    Attributes:
        net: the converted graph, working on the folded batch ``[T·N, *]`` (its neurons in step mode ``'m'``).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        for m in net.modules():
            if isinstance(m, SpikingActivation):
                for part in (m.scaler0, m.if_node, m.scaler1):
                    if isinstance(part, StepModule):
                        part.step_mode = "m"

    def _contexts(self) -> list[TimeContext]:
        return list({id(t): t for m in self.modules() if isinstance(t := getattr(m, "time", None), TimeContext)
                     }.values())

    def neurons(self) -> list[nn.Module]:
        """The IF neurons, in graph order."""
        return [m.if_node for m in self.modules() if isinstance(m, SpikingActivation)]

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
        for time in self._contexts():
            time.T = T
        return _unfold(self.net(*(x.flatten(0, 1) for x in x_seqs)), T, N)

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
