"""sj.rnn against SpikingJelly 2.0.0's activation_based.rnn: same seed → same weights; same weights and inputs →
outputs, final states and gradients within 1e-5 (float64, so no gate flips on rounding); same dropout draws."""

from __future__ import annotations

import pytest
import torch
from layers_parity_common import assert_close_max, run_parity, sj2

from sj import rnn, surrogate

T, N, IN, H = 4, 2, 3, 5
R = sj2("rnn")
S = sj2("surrogate")


def _x(dtype=torch.float64):
    return torch.randn(T, N, IN, generator=torch.Generator().manual_seed(3), dtype=dtype)


@pytest.mark.parametrize("name", ["SpikingLSTMCell", "SpikingGRUCell", "SpikingVanillaRNNCell"])
def test_cells_seeded_weights_and_steps(name):
    torch.manual_seed(0)
    ours = getattr(rnn, name)(IN, H).double()
    torch.manual_seed(0)
    theirs = getattr(R, name)(IN, H).double()
    for (ka, a), (kb, b) in zip(ours.state_dict().items(), theirs.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(a, b)  # same parameters drawn in the same order
    x = 2 * _x()[0]
    run_parity(ours, theirs, [x])  # zero initial state
    state = (torch.rand(2, N, H, dtype=torch.float64) > 0.5).double()
    run_parity(ours, theirs, [x, tuple(state) if "LSTM" in name else state[0]])
    assert ours.weight_ih() is ours.linear_ih.weight and ours.bias_hh() is ours.linear_hh.bias


def test_cells_with_two_gate_functions():
    for name in ("SpikingLSTMCell", "SpikingGRUCell"):
        ours = getattr(rnn, name)(IN, H, True, surrogate.Sigmoid(), surrogate.ATan()).double()
        theirs = getattr(R, name)(IN, H, True, S.Sigmoid(), S.ATan()).double()
        run_parity(ours, theirs, [2 * _x()[0]])
    with pytest.raises(ValueError, match="both be spiking"):
        rnn.SpikingLSTMCell(IN, H, True, surrogate.Sigmoid(), surrogate.Sigmoid(spiking=False))


@pytest.mark.parametrize("name", ["SpikingLSTM", "SpikingGRU", "SpikingVanillaRNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_networks(name, bidirectional):
    ours = getattr(rnn, name)(IN, H, 2, bidirectional=bidirectional).double()
    theirs = getattr(R, name)(IN, H, 2, bidirectional=bidirectional).double()
    outs = run_parity(ours, theirs, [2 * _x()])
    assert outs[0].shape == (T, N, H * (2 if bidirectional else 1))
    assert 0 < outs[0].mean() < 1  # the gates do spike
    D = 2 if bidirectional else 1
    states = (torch.rand(2, 2 * D, N, H, dtype=torch.float64) > 0.5).double()
    run_parity(ours, theirs, [2 * _x(), tuple(states) if name == "SpikingLSTM" else states[0]])


@pytest.mark.parametrize("invariant", [False, True])
def test_dropout_between_layers_same_draws(invariant):
    torch.manual_seed(1)
    ours = rnn.SpikingGRU(IN, H, 3, dropout_p=0.5, invariant_dropout_mask=invariant)
    torch.manual_seed(1)
    theirs = R.SpikingGRU(IN, H, 3, dropout_p=0.5, invariant_dropout_mask=invariant)
    run_parity(ours, theirs, [2 * _x(torch.float32)], seed=9)


def test_cell_forward_functions():
    torch.manual_seed(0)
    cell, cell_r = rnn.SpikingLSTMCell(IN, H).double(), rnn.SpikingLSTMCell(IN, H).double()
    theirs, theirs_r = R.SpikingLSTMCell(IN, H).double(), R.SpikingLSTMCell(IN, H).double()
    theirs.load_state_dict(cell.state_dict()), theirs_r.load_state_dict(cell_r.state_dict())
    x, s0 = 2 * _x(), torch.zeros(2, N, H, dtype=torch.float64)
    y, s = rnn.directional_rnn_cell_forward(cell, x, s0)
    y2, s2 = R.directional_rnn_cell_forward(theirs, x, s0)
    assert_close_max([y, *s], [y2, *s2])
    y, s, sr = rnn.bidirectional_rnn_cell_forward(cell, cell_r, x, s0, s0)
    y2, s2, sr2 = R.bidirectional_rnn_cell_forward(theirs, theirs_r, x, s0, s0)
    assert_close_max([y, *s, *sr], [y2, *s2, *sr2])
    with pytest.raises(ValueError, match="states"):
        rnn.directional_rnn_cell_forward(cell, x, torch.zeros(N))
