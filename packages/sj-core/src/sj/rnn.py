"""Spiking recurrent networks (SpikingJelly's ``activation_based.rnn``): LSTM, GRU and vanilla RNN cells whose gates
are spikes (a surrogate function's Θ in forward, its derivative in backward), and multi-layer, optionally
bidirectional, networks of them.

Shapes follow :class:`torch.nn.LSTM` with time first: input ``[T, N, input_size]``, output
``[T, N, hidden_size · directions]``; states ``[num_layers · directions, N, hidden_size]`` (LSTM: a pair ``(h, c)``),
forward directions first. Parameter names and initialisation (uniform in ``±1/√hidden_size``) are SpikingJelly's, so
its checkpoints load and a seeded construction draws the same weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sj import surrogate
from sj.surrogate import SurrogateFunction

__all__ = ["SpikingGRU", "SpikingGRUCell", "SpikingLSTM", "SpikingLSTMCell", "SpikingRNNBase", "SpikingRNNCellBase",
           "SpikingVanillaRNN", "SpikingVanillaRNNCell", "bidirectional_rnn_cell_forward",
           "directional_rnn_cell_forward"]

_ERF = surrogate.Erf()  # SpikingJelly's default gate function (stateless, shared)

States = torch.Tensor | tuple[torch.Tensor, ...]


def _check_states(states: torch.Tensor, name: str = "states") -> None:
    if not isinstance(states, torch.Tensor) or states.dim() not in (2, 3):
        got = tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__
        raise ValueError(f"{name} must be [N, hidden_size] (one state) or [states_num, N, hidden_size], got {got}")


def _as_tensor(states: States) -> torch.Tensor:
    return torch.stack(states) if isinstance(states, (tuple, list)) else states


def directional_rnn_cell_forward(cell: nn.Module, x: torch.Tensor, states: torch.Tensor
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``cell`` over time: ``s = cell(x[t], s)`` for t = 0..T−1.

    Args:
        cell: a cell ``(x [N, in], states) → states``.
        x: ``[T, N, input_size]``.
        states: the initial state, ``[N, hidden]`` for a one-state cell or ``[states_num, N, hidden]`` (the first state
            is the output, e.g. LSTM's ``h``).

    Returns:
        ``(output [T, N, hidden], final states shaped as states)``.
    """
    _check_states(states)
    one_state = states.dim() == 2
    s, outputs = states, []
    for xt in x:
        s = cell(xt, s)
        outputs.append(s if one_state else s[0])
    return torch.stack(outputs), _as_tensor(s)


def bidirectional_rnn_cell_forward(cell: nn.Module, cell_reverse: nn.Module, x: torch.Tensor, states: torch.Tensor,
                                   states_reverse: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`directional_rnn_cell_forward` of ``cell`` over ``x`` and of ``cell_reverse`` over ``x`` reversed in
    time. Returns ``(output [T, N, 2·hidden], final states, final reverse states)``; the output concatenates, at each
    t, the forward output and the reverse output of the same step."""
    _check_states(states)
    _check_states(states_reverse, "states_reverse")
    if states.dim() != states_reverse.dim():
        raise ValueError(f"states and states_reverse must have the same rank, got {tuple(states.shape)} and "
                         f"{tuple(states_reverse.shape)}")
    y, s = directional_rnn_cell_forward(cell, x, states)
    y_r, s_r = directional_rnn_cell_forward(cell_reverse, x.flip(0), states_reverse)
    return torch.cat((y, y_r.flip(0)), dim=-1), s, s_r


class SpikingRNNCellBase(nn.Module):
    """Base of the spiking cells, which hold ``linear_ih`` (input → gates) and ``linear_hh`` (hidden → gates).

    Args:
        input_size, hidden_size: feature sizes of ``x`` and ``h``.
        bias: whether both linear maps have biases. Default ``True``.

    A subclass creates its linear maps (:meth:`make_linears` for ``gates`` gates), then calls
    :meth:`reset_parameters`.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias

    def make_linears(self, gates: int) -> None:
        """``linear_ih: input_size → gates·hidden_size`` and ``linear_hh: hidden_size → gates·hidden_size``."""
        self.linear_ih = nn.Linear(self.input_size, gates * self.hidden_size, bias=self.bias)
        self.linear_hh = nn.Linear(self.hidden_size, gates * self.hidden_size, bias=self.bias)

    def reset_parameters(self) -> None:
        """Every parameter uniform in ``[−1/√hidden_size, 1/√hidden_size]`` (as :class:`torch.nn.LSTMCell`)."""
        bound = math.sqrt(1.0 / self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def weight_ih(self) -> torch.Tensor:
        """``[gates·hidden_size, input_size]``."""
        return self.linear_ih.weight

    def weight_hh(self) -> torch.Tensor:
        """``[gates · hidden_size, hidden_size]``."""
        return self.linear_hh.weight

    def bias_ih(self) -> torch.Tensor | None:
        return self.linear_ih.bias

    def bias_hh(self) -> torch.Tensor | None:
        return self.linear_hh.bias

    def _zeros(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input must be [N, {self.input_size}], got {tuple(x.shape)}")
        return x.new_zeros(x.shape[0], self.hidden_size)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}, bias={self.bias}"


def _check_pair(owner: str, f1: SurrogateFunction, f2: SurrogateFunction | None) -> None:
    if f2 is not None and f1.spiking != f2.spiking:
        raise ValueError(f"{owner}: surrogate_function1 and surrogate_function2 must both be spiking or both not")


class SpikingLSTMCell(SpikingRNNCellBase):
    """Spiking LSTM cell (Lotfi Rezaabad & Vishwanath, 2020): gates ``i, f, o = g₁(·)``, ``g = g₂(·)`` (``g₁`` when
    ``surrogate_function2`` is ``None``) of ``W_ih·x + b_ih + W_hh·h + b_hh``; ``c' = min(f·c + i·g, 1)`` and
    ``h' = c'·o``. With spiking gates c' ∈ {0, 1, 2} before the clamp; the clamp passes the gradient unchanged.

    Args:
        input_size, hidden_size, bias: as :class:`SpikingRNNCellBase`.
        surrogate_function1: gate function of i, f, o (default ``sj.surrogate.Erf()``).
        surrogate_function2: gate function of g, or ``None``.

    ``forward(x [N, in], hc=None) → (h, c)``, each ``[N, hidden]``; ``hc`` a pair (or ``[2, N, hidden]``), zeros
    when ``None``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 surrogate_function1: SurrogateFunction = _ERF, surrogate_function2: SurrogateFunction | None = None
                 ) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.make_linears(4)
        _check_pair("SpikingLSTMCell", surrogate_function1, surrogate_function2)
        self.surrogate_function1, self.surrogate_function2 = surrogate_function1, surrogate_function2
        self.reset_parameters()

    def forward(self, x: torch.Tensor, hc: States | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if hc is None:
            h = c = self._zeros(x)
        else:
            h, c = hc[0], hc[1]
        pre = self.linear_ih(x) + self.linear_hh(h)
        g1, g2 = self.surrogate_function1, self.surrogate_function2
        if g2 is None:
            i, f, g, o = torch.split(g1(pre), self.hidden_size, dim=1)
        else:
            i, f, g, o = torch.split(pre, self.hidden_size, dim=1)
            i, f, g, o = g1(i), g1(f), g2(g), g1(o)
        c = c * f + i * g
        c = c - (c - c.clamp_max(1.0)).detach()  # clamped value, identity gradient
        return c * o, c


class SpikingVanillaRNNCell(SpikingRNNCellBase):
    """Spiking Elman cell: ``h' = g(W_ih·x + b_ih + W_hh·h + b_hh)``.

    Args:
        input_size, hidden_size, bias: as :class:`SpikingRNNCellBase`.
        surrogate_function: the spiking function (default ``sj.surrogate.Erf()``).

    ``forward(x [N, in], h=None) → h [N, hidden]``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 surrogate_function: SurrogateFunction = _ERF) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.make_linears(1)
        self.surrogate_function = surrogate_function
        self.reset_parameters()

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if h is None:
            h = self._zeros(x)
        return self.surrogate_function(self.linear_ih(x) + self.linear_hh(h))


class SpikingGRUCell(SpikingRNNCellBase):
    """Spiking GRU cell: ``r = g₁(·)``, ``z = g₁(·)``, ``n = g₂(W_in·x + b_in + r·(W_hn·h + b_hn))`` (``g₁`` when
    ``surrogate_function2`` is ``None``), ``h' = (1 − z)·n + z·h``.

    Args: as :class:`SpikingLSTMCell`. ``forward(x [N, in], h=None) → h [N, hidden]``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 surrogate_function1: SurrogateFunction = _ERF, surrogate_function2: SurrogateFunction | None = None
                 ) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.make_linears(3)
        _check_pair("SpikingGRUCell", surrogate_function1, surrogate_function2)
        self.surrogate_function1, self.surrogate_function2 = surrogate_function1, surrogate_function2
        self.reset_parameters()

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if h is None:
            h = self._zeros(x)
        ir, iz, i_n = torch.split(self.linear_ih(x), self.hidden_size, dim=1)
        hr, hz, hn = torch.split(self.linear_hh(h), self.hidden_size, dim=1)
        g1 = self.surrogate_function1
        r, z = g1(ir + hr), g1(iz + hz)
        n = (self.surrogate_function2 or g1)(i_n + r * hn)
        return (1.0 - z) * n + z * h


class SpikingRNNBase(nn.Module):
    """Stacked (and optionally bidirectional) spiking recurrent layers of :meth:`base_cell` cells.

    Args:
        input_size, hidden_size: feature sizes.
        num_layers: stacked layers; layer k > 0 takes the previous layer's output (both directions concatenated).
        bias: cells have biases. Default ``True``.
        dropout_p: dropout between layers (not after the last) in training. Default 0.
        invariant_dropout_mask: one dropout mask per layer shared by all steps (drawn once per call) instead of a
            new mask at every element.
        bidirectional: add a reverse-time cell per layer (``cells_reverse``).
        ``*args``, ``**kwargs``: passed to each cell after ``(input_size, hidden_size, bias)``.

    ``forward(x [T, N, input_size], states=None) → (y [T, N, hidden·directions], final states)``: states
    ``[layers·directions, N, hidden]`` (LSTM: a pair ``(h, c)``; ``[2, layers·directions, N, hidden]`` also
    accepted), zeros when ``None``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool = True, dropout_p: float = 0,
                 invariant_dropout_mask: bool = False, bidirectional: bool = False, *args, **kwargs) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be ≥ 1, got {num_layers}")
        if not 0.0 <= dropout_p < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout_p must be in [0, 1), got {dropout_p}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.dropout_p = bias, dropout_p
        self.invariant_dropout_mask, self.bidirectional = invariant_dropout_mask, bidirectional
        if bidirectional:
            self.cells, self.cells_reverse = self.create_cells(*args, **kwargs)
        else:
            self.cells = self.create_cells(*args, **kwargs)

    def create_cells(self, *args, **kwargs) -> nn.Sequential | tuple[nn.Sequential, nn.Sequential]:
        """The cells of every layer (``nn.Sequential``; a pair forward/reverse when bidirectional)."""
        sizes = [self.input_size] + [self.hidden_size * self.directions] * (self.num_layers - 1)

        def stack() -> nn.Sequential:
            return nn.Sequential(*(self.base_cell()(n, self.hidden_size, self.bias, *args, **kwargs) for n in sizes))

        return (stack(), stack()) if self.bidirectional else stack()

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @staticmethod
    def base_cell() -> type[SpikingRNNCellBase]:
        """The cell class."""
        raise NotImplementedError

    @staticmethod
    def states_num() -> int:
        """States per cell (LSTM 2, GRU and vanilla RNN 1)."""
        raise NotImplementedError

    def _initial_states(self, x: torch.Tensor, states) -> torch.Tensor:
        S, LD = self.states_num(), self.num_layers * self.directions
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input must be [T, N, {self.input_size}], got {tuple(x.shape)}")
        if states is None:
            return x.new_zeros(S, LD, x.shape[1], self.hidden_size)
        if isinstance(states, (tuple, list)):
            states = torch.stack(tuple(states))
        elif isinstance(states, torch.Tensor) and states.dim() == 3:
            states = states.unsqueeze(0)
        if not isinstance(states, torch.Tensor):
            raise TypeError(f"{type(self).__name__}: states must be None, a tensor or a tuple of tensors, got "
                            f"{type(states).__name__}")
        if tuple(states.shape) != (S, LD, x.shape[1], self.hidden_size):
            raise ValueError(f"{type(self).__name__}: states must be [{S}, {LD}, {x.shape[1]}, {self.hidden_size}] "
                             f"(states_num, layers·directions, N, hidden_size), got {tuple(states.shape)}")
        return states

    def forward(self, x: torch.Tensor, states=None):
        states = self._initial_states(x, states)
        one = self.states_num() == 1
        dropping = self.training and self.dropout_p > 0 and self.num_layers > 1
        masks = None
        if dropping and self.invariant_dropout_mask:  # drawn before the layers run, one per layer boundary
            masks = F.dropout(x.new_ones(self.num_layers - 1, x.shape[1], self.hidden_size * self.directions),
                              p=self.dropout_p, training=True)
        finals: dict[int, torch.Tensor] = {}
        y = x
        for k in range(self.num_layers):
            s = states[0, k] if one else states[:, k]
            if self.bidirectional:
                r = k + self.num_layers
                y, finals[k], finals[r] = bidirectional_rnn_cell_forward(
                    self.cells[k], self.cells_reverse[k], y, s, states[0, r] if one else states[:, r])
            else:
                y, finals[k] = directional_rnn_cell_forward(self.cells[k], y, s)
            if dropping and k < self.num_layers - 1:
                y = F.dropout(y, p=self.dropout_p, training=True) if masks is None else y * masks[k]
        final = torch.stack([finals[i] for i in range(len(finals))], dim=0 if one else 1)
        return (y, final) if one else (y, tuple(final))

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"bias={self.bias}, dropout_p={self.dropout_p}, bidirectional={self.bidirectional}")


class SpikingLSTM(SpikingRNNBase):
    """Multi-layer spiking LSTM of :class:`SpikingLSTMCell`; states ``(h, c)``. Args: :class:`SpikingRNNBase`, then
    ``surrogate_function1``, ``surrogate_function2`` as the cell."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool = True, dropout_p: float = 0,
                 invariant_dropout_mask: bool = False, bidirectional: bool = False,
                 surrogate_function1: SurrogateFunction = _ERF, surrogate_function2: SurrogateFunction | None = None
                 ) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, dropout_p, invariant_dropout_mask, bidirectional,
                         surrogate_function1, surrogate_function2)

    @staticmethod
    def base_cell() -> type[SpikingRNNCellBase]:
        return SpikingLSTMCell

    @staticmethod
    def states_num() -> int:
        return 2


class SpikingVanillaRNN(SpikingRNNBase):
    """Multi-layer spiking Elman network of :class:`SpikingVanillaRNNCell`. Args: :class:`SpikingRNNBase`, then
    ``surrogate_function``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool = True, dropout_p: float = 0,
                 invariant_dropout_mask: bool = False, bidirectional: bool = False,
                 surrogate_function: SurrogateFunction = _ERF) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, dropout_p, invariant_dropout_mask, bidirectional,
                         surrogate_function)

    @staticmethod
    def base_cell() -> type[SpikingRNNCellBase]:
        return SpikingVanillaRNNCell

    @staticmethod
    def states_num() -> int:
        return 1


class SpikingGRU(SpikingRNNBase):
    """Multi-layer spiking GRU of :class:`SpikingGRUCell`. Args: :class:`SpikingRNNBase`, then
    ``surrogate_function1``, ``surrogate_function2`` as the cell."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool = True, dropout_p: float = 0,
                 invariant_dropout_mask: bool = False, bidirectional: bool = False,
                 surrogate_function1: SurrogateFunction = _ERF, surrogate_function2: SurrogateFunction | None = None
                 ) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, dropout_p, invariant_dropout_mask, bidirectional,
                         surrogate_function1, surrogate_function2)

    @staticmethod
    def base_cell() -> type[SpikingRNNCellBase]:
        return SpikingGRUCell

    @staticmethod
    def states_num() -> int:
        return 1
