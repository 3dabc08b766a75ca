# ruff: noqa
"""Docstrings of ann2snn.operators: TDSoftmax, TDLayerNorm, TDGELU, TDLinear, TDScaledDotProductAttention and
TDMultiheadAttention on [T, ...] sequences in step mode 'm'; each TD output summed over time is the ANN output of
the summed input."""
import torch
from spikingjelly.activation_based.ann2snn.operators import (
    TDGELU, TDLayerNorm, TDLinear, TDMultiheadAttention, TDScaledDotProductAttention, TDSoftmax)

outputs = {}
op = TDSoftmax(dim=-1)
x_seq = torch.randn(4, 2, 3)
outputs["softmax"] = op(x_seq)

op = TDLayerNorm(normalized_shape=3)
x_seq = torch.randn(4, 2, 3)
outputs["layer_norm"] = op(x_seq)

op = TDGELU(approximate="none")
x_seq = torch.randn(4, 2, 3)
outputs["gelu"] = op(x_seq)

op = TDLinear(3, 5)
x_seq = torch.randn(4, 2, 3)
outputs["linear"] = op(x_seq)

op = TDScaledDotProductAttention()
q_seq = torch.randn(4, 2, 3, 8)
k_seq = torch.randn(4, 2, 5, 8)
v_seq = torch.randn(4, 2, 5, 6)
outputs["sdpa"] = op(q_seq, k_seq, v_seq)

op = TDMultiheadAttention(embed_dim=8, num_heads=2)
x_seq = torch.randn(4, 2, 5, 8)
y_seq, weights = op(x_seq, x_seq, x_seq, need_weights=False)
outputs["mha"] = y_seq
outputs["mha_weights"] = weights

result = outputs
