"""SpikeZIP-TF conversion (sj.ann2snn.spikezip, SpikeZIPTFQANNRecipe) without SpikingJelly: the quantizer's
straight-through gradients, sums over time equal to the QANN, sequences cut into several calls, a ViT with a single
top-level attention, and bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sj import functional
from sj.ann2snn import ModuleConverter, SpikeZIPTFQANNRecipe
from sj.ann2snn.sample_models import TinyQRobertaClassifier, TinyQViT
from sj.ann2snn.sample_models.spikezip_qann import QViTAttention
from sj.ann2snn.spikezip import SpikeZIPEmbedding, SpikeZIPLinear, SpikeZIPQuantizer, SpikeZIPViT, product_increments
from sj.neuron import STBIFNode

# sums over time against the QANN: STBIFNode keeps its step in float32 (as SpikingJelly), so a float64 QANN's step
# s differs by up to 2^-24·s per emitted level
QANN_ATOL = 1e-7


def _convert(qann: nn.Module, family: str = "vit", T: int = 8) -> nn.Module:
    return ModuleConverter(recipe=SpikeZIPTFQANNRecipe(time_steps=T, model_family=family)).convert(qann)


def _vit(**kw) -> nn.Module:
    torch.manual_seed(0)
    qann = TinyQViT(**kw).double().eval()
    for m in qann.modules():
        if isinstance(m, SpikeZIPQuantizer):
            m.s.data.fill_(0.05)
    return qann


def _first_step(x: torch.Tensor, T: int) -> torch.Tensor:
    seq = x.new_zeros(T, *x.shape)
    seq[0] = x
    return seq


@pytest.mark.parametrize("sym", [True, False])
def test_quantizer_straight_through_gradients(sym):
    """d/dx = 1 where the rounded value lies within the bounds, else 0; d/ds = q − x/s inside, the bound outside."""
    quan = SpikeZIPQuantizer(level=4, sym=sym, scale=0.5).double()
    x = torch.linspace(-2.3, 2.3, 47, dtype=torch.float64, requires_grad=True)
    y = quan(x)
    y.sum().backward()
    lo, hi = (-2.0, 1.0) if sym else (0.0, 3.0)
    rounded = torch.floor(x.detach() / 0.5 + 0.5)
    inside = (rounded >= lo) & (rounded <= hi)
    torch.testing.assert_close(y.detach(), rounded.clamp(lo, hi) * 0.5)
    torch.testing.assert_close(x.grad, inside.double())
    ds = torch.where(inside, rounded - x.detach() / 0.5, rounded.clamp(lo, hi))
    torch.testing.assert_close(quan.s.grad, ds.sum())


def test_product_increments_sum_to_the_product_of_sums():
    a, b = torch.randn(5, 2, 3, 4, dtype=torch.float64), torch.randn(5, 2, 4, 3, dtype=torch.float64)
    a0, b0 = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 4, 3, dtype=torch.float64)
    d = product_increments(a, b, a0, b0)
    torch.testing.assert_close(a0 @ b0 + d.sum(0), (a0 + a.sum(0)) @ (b0 + b.sum(0)))
    torch.testing.assert_close(product_increments(a[:1], b[:1])[0], a[0] @ b[0])


@pytest.mark.parametrize("softmax", [True, False])
def test_vit_sums_to_the_qann_and_sequences_may_be_cut(softmax):
    qann = _vit(softmax=softmax)
    snn = _convert(qann)
    assert isinstance(snn, SpikeZIPViT) and snn.training is False and qann.head.bias is not None
    assert not any(isinstance(m, nn.ReLU) for m in snn.modules())
    assert "kernel_size=(4, 4), stride=(4, 4), bias=False" in repr(snn.patch_embed.proj)  # bias: spikezip_bias
    x_seq = _first_step(torch.rand(2, 3, 8, 8, dtype=torch.float64), 16)
    functional.set_step_mode(snn, "m")
    functional.reset_net(snn)
    with torch.no_grad():
        whole = snn(x_seq)
        functional.reset_net(snn)
        parts = torch.cat((snn(x_seq[:3]), snn(x_seq[3:])))
        want = qann(x_seq[0])
    torch.testing.assert_close(whole.sum(0), want, rtol=0, atol=QANN_ATOL)
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-12)
    assert any(n.acc_q.abs().max() >= 2 for n in snn.modules() if isinstance(n, STBIFNode))


def test_roberta_embedding_and_biases_carry_over_calls():
    """Token ids repeat at every step: the embedding enters once, each bias over ``level`` steps, across calls."""
    torch.manual_seed(0)
    qann = TinyQRobertaClassifier(vocab_size=10, hidden_size=8, num_heads=2, level=4).double().eval()
    snn = _convert(qann, "roberta", 6)
    functional.set_step_mode(snn.embedding, "m")
    tokens = torch.randint(0, 10, (3, 2, 5))
    emb = snn.embedding(tokens)
    torch.testing.assert_close(emb[0], qann.embedding(tokens[0]))
    assert emb[1:].abs().sum() == 0 and snn.embedding(tokens).abs().sum() == 0
    head = snn.classifier
    assert isinstance(head, SpikeZIPLinear) and head.bias_steps == 4 and head.bias is None
    functional.set_step_mode(head, "m")
    zeros = torch.zeros(3, 1, 8, dtype=torch.float64)
    released = torch.cat((head(zeros), head(zeros)))
    torch.testing.assert_close(released[:4], qann.classifier.bias.expand(4, 1, 2) / 4)
    assert released[4:].abs().sum() == 0
    functional.reset_net(snn)
    assert snn.embedding.t == 0 and head.realize_time == 4


class _Patchify(nn.Module):
    """Patch tokens made by the module itself (no ``proj``): ``[N, 3, 8, 8]`` → ``[N, 4, 8]``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(48, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.unfold(x, 4, stride=4).transpose(-1, -2))


class _OneAttentionViT(nn.Module):
    """A ViT with a single top-level attention: ``norm(h + attn(norm(h)))`` on the tokens ``h``."""

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = _Patchify()
        self.cls_token = nn.Parameter(torch.randn(1, 1, 8) * 0.1)
        self.pos_embed = nn.Parameter(torch.randn(1, 5, 8) * 0.1)
        self.attn = QViTAttention(8, 2)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.patch_embed(x)
        h = torch.cat((self.cls_token.expand(h.shape[0], -1, -1), h), 1) + self.pos_embed
        return self.head(self.norm(h + self.attn(self.norm(h)))[:, 0])


def test_top_level_attention_vit_and_its_errors():
    torch.manual_seed(0)
    qann = _OneAttentionViT().double().eval()
    snn = _convert(qann)
    assert isinstance(snn.attn_norm, type(snn.norm)) and snn.attn_norm is not snn.norm
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    functional.reset_net(snn)
    with torch.no_grad():
        out = sum(snn(x_t) for x_t in _first_step(x, 8))
        torch.testing.assert_close(out, qann(x), rtol=0, atol=QANN_ATOL)
    with pytest.raises(ValueError, match=r"images \[N, C, H, W\]"):
        snn(torch.rand(1, 2, 3, 8, 8, dtype=torch.float64))
    del qann.norm
    with pytest.raises(ValueError, match="no top-level 'norm'"):
        _convert(qann)


def test_roberta_attention_refuses_what_it_does_not_support():
    torch.manual_seed(0)
    qann = TinyQRobertaClassifier(vocab_size=10, hidden_size=8, num_heads=2).eval()
    attention = _convert(qann, "roberta").attention
    x = torch.randn(2, 5, 8)
    for kw, match in (({"head_mask": torch.ones(2)}, "head_mask"),
                      ({"encoder_hidden_states": x}, "cross-attention"),
                      ({"past_key_value": (x, x)}, "decoder cache")):
        with pytest.raises(ValueError, match=match):
            attention(x, **kw)
    qann.attention.position_embedding_type = "relative_key"
    with pytest.raises(ValueError, match="absolute position embeddings"):
        _convert(qann, "roberta")
    qann.attention.position_embedding_type = "absolute"
    for name in ("query_quan", "key_quan", "value_quan"):
        setattr(qann.attention, name, nn.Identity())
    with pytest.raises(ValueError, match="no query/key/value quantizer"):
        _convert(qann, "roberta")


@pytest.mark.parametrize("kw, match", [({"time_steps": 0}, "time_steps"), ({"time_steps": True}, "time_steps"),
                                       ({"model_family": "bert"}, "model_family")])
def test_recipe_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        ModuleConverter(recipe=SpikeZIPTFQANNRecipe(**kw)).convert(nn.Linear(2, 2))


def test_layer_arguments():
    with pytest.raises(ValueError, match="bias_steps"):
        SpikeZIPLinear(nn.Linear(2, 2), level=4, bias_steps=0)
    with pytest.raises(ValueError, match="level"):
        SpikeZIPQuantizer(level=1)
    with pytest.raises(ValueError, match="non-empty"):
        SpikeZIPEmbedding(nn.Embedding(3, 2)).multi_step_forward(torch.zeros(0, 2, dtype=torch.long))


def test_qann_trains_through_the_quantizers():
    """One optimisation step of the sample ViT: every parameter (weights and quantizer steps) gets a gradient."""
    qann = _vit().train()
    qann(torch.rand(2, 3, 8, 8, dtype=torch.float64)).square().sum().backward()
    missing = [n for n, p in qann.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
