"""sj.rnn: the LSTM cell's closed form, shapes of the stacked networks, and bad input naming the problem."""

from __future__ import annotations

import pytest
import torch

from sj import rnn, surrogate


def test_lstm_cell_closed_form_with_clamped_cell_state():
    cell = rnn.SpikingLSTMCell(2, 3, surrogate_function1=surrogate.Sigmoid())
    x, h, c = torch.randn(4, 2), torch.ones(4, 3), torch.ones(4, 3)
    pre = cell.linear_ih(x) + cell.linear_hh(h)
    i, f, g, o = ((pre >= 0).float()).split(3, dim=1)
    c_ref = (c * f + i * g).clamp_max(1.0)
    h1, c1 = cell(x, (h, c))
    torch.testing.assert_close(c1, c_ref)
    torch.testing.assert_close(h1, c_ref * o)
    assert c1.max() <= 1.0


@pytest.mark.parametrize("cls", [rnn.SpikingLSTM, rnn.SpikingGRU, rnn.SpikingVanillaRNN])
def test_stacked_shapes(cls):
    net = cls(3, 4, 2, bidirectional=True)
    y, states = net(torch.randn(5, 2, 3))
    assert y.shape == (5, 2, 8)
    for s in states if cls is rnn.SpikingLSTM else (states,):
        assert s.shape == (4, 2, 4)


def test_bad_input():
    net = rnn.SpikingLSTM(3, 4, 2)
    with pytest.raises(ValueError, match=r"input must be \[T, N, 3\]"):
        net(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"states must be \[2, 2, 2, 4\]"):
        net(torch.zeros(5, 2, 3), (torch.zeros(2, 2, 4),))
    with pytest.raises(TypeError, match="states must be None"):
        net(torch.zeros(5, 2, 3), 1.0)
    with pytest.raises(ValueError, match="num_layers"):
        rnn.SpikingGRU(3, 4, 0)
    with pytest.raises(ValueError, match="dropout_p"):
        rnn.SpikingGRU(3, 4, 2, dropout_p=1.0)
    with pytest.raises(ValueError, match=r"input must be \[N, 3\]"):
        rnn.SpikingGRUCell(3, 4)(torch.zeros(2, 5))
