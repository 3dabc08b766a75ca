"""sj.ann2snn's SpikeZIP-TF recipe against SpikingJelly 2.0.0's ``SpikeZIPTFQANNRecipe``: the same quantized
transformer converted by both, then run on the same inputs (float64).

- RoBERTa: SJ's own synthetic QANN (its SpikeZIP example's ``TinyQRobertaClassifier``) with an attention mask, one
  step per call; its attention alone in step mode 'm' with ``output_attentions``.
- ViT (sj's ``TinyQViT``, with and without softmax): one step per call and step mode 'm'.

The converted models have SJ's state_dict (loaded strictly), every step's output equals SJ's to rounding (the
spiking products are formed in another order: 1e-12), and the outputs summed over time equal the QANN's. The QANN
side: sj's ``SpikeZIPQuantizer`` and sample RoBERTa load the example's weights and compute its outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import spikingjelly

from sj import functional
from sj.ann2snn import ModuleConverter, SpikeZIPTFQANNRecipe
from sj.ann2snn.sample_models import TinyQRobertaClassifier, TinyQViT
from sj.ann2snn.spikezip import SpikeZIPQuantizer
from sj.neuron import STBIFNode

ATOL = 1e-12
# sums over time against the QANN: STBIFNode keeps its step in float32 (as SpikingJelly), so a float64 QANN's step
# s differs by up to 2^-24·s per emitted level
QANN_ATOL = 1e-7


def _example():
    return spikingjelly("activation_based.ann2snn.examples.roberta_spikezip_qann_synthetic")


def _active(qann: nn.Module, scale: float) -> nn.Module:
    """Quantizer steps small enough that the QANN's activations span several levels and reach the bounds."""
    for m in qann.modules():
        if hasattr(m, "pos_max") and hasattr(m, "s"):
            m.s.data.fill_(scale)
    return qann.double().eval()


def _convert_both(qann: nn.Module, family: str, T: int) -> tuple[nn.Module, nn.Module]:
    sj2 = spikingjelly("activation_based.ann2snn")
    theirs = sj2.ModuleConverter(recipe=sj2.SpikeZIPTFQANNRecipe(time_steps=T, model_family=family)).convert(qann)
    ours = ModuleConverter(recipe=SpikeZIPTFQANNRecipe(time_steps=T, model_family=family)).convert(qann)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert (ours.ann2snn_recipe, ours.time_steps, ours.model_family) == ("spikezip_tf_qann", T, family)
    return theirs, ours


def _steps(net: nn.Module, reset, inputs: list, **kw) -> torch.Tensor:
    reset(net)
    with torch.no_grad():
        return torch.stack([net(x, **kw) for x in inputs])


def _spiking(net: nn.Module) -> None:
    """The comparison is not vacuous: some neuron emitted several levels, some reached a bound."""
    nodes = [m for m in net.modules() if isinstance(m, STBIFNode)]
    assert any(n.acc_q.abs().max() >= 2 for n in nodes)
    assert any(((n.acc_q == n.pos_max) | (n.acc_q == n.neg_min)).any() for n in nodes)


def test_roberta_one_step_per_call():
    torch.manual_seed(0)
    qann = _active(_example().TinyQRobertaClassifier(vocab_size=16, hidden_size=8, num_heads=2, level=8), 0.1)
    theirs, ours = _convert_both(qann, "roberta", 16)
    tokens = torch.randint(0, 16, (3, 5))
    mask = torch.zeros(3, 1, 1, 5, dtype=torch.float64)
    mask[..., -1] = -1e4
    SJF = spikingjelly("activation_based.functional")
    want = _steps(theirs, SJF.reset_net, [tokens] * 16, attention_mask=mask)
    got = _steps(ours, functional.reset_net, [tokens] * 16, attention_mask=mask)
    _spiking(ours)
    torch.testing.assert_close(got, want, rtol=0, atol=ATOL)
    with torch.no_grad():
        torch.testing.assert_close(got.sum(0), qann(tokens, attention_mask=mask), rtol=0, atol=QANN_ATOL)


def test_roberta_attention_in_multi_step_mode_with_attention_probabilities():
    torch.manual_seed(1)
    qann = _active(_example().TinyQRobertaClassifier(vocab_size=16, hidden_size=8, num_heads=2, level=8), 0.1)
    theirs, ours = (net.attention for net in _convert_both(qann, "roberta", 16))
    x_seq = torch.zeros(12, 2, 5, 8, dtype=torch.float64)
    x_seq[0] = torch.randn(2, 5, 8, dtype=torch.float64)
    SJF = spikingjelly("activation_based.functional")
    outs = []
    for net, f in ((theirs, SJF), (ours, functional)):
        f.set_step_mode(net, "m")
        f.reset_net(net)
        with torch.no_grad():
            outs.append(net(x_seq, output_attentions=True))
    for got, want in zip(outs[1], outs[0], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=ATOL)
    with torch.no_grad():
        context, probs = qann.attention(x_seq[0], output_attentions=True)
    torch.testing.assert_close(outs[1][0].sum(0), context, rtol=0, atol=QANN_ATOL)
    torch.testing.assert_close(outs[1][1].sum(0), probs, rtol=0, atol=QANN_ATOL)


@pytest.mark.parametrize("softmax", [True, False])
def test_vit_in_both_step_modes(softmax):
    """The image enters at the first step (zeros after: the patch embedding is a TD convolution)."""
    torch.manual_seed(0)
    qann = _active(TinyQViT(softmax=softmax), 0.05)
    theirs, ours = _convert_both(qann, "vit", 10)
    x_seq = torch.zeros(10, 2, 3, 8, 8, dtype=torch.float64)
    x_seq[0] = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    SJF = spikingjelly("activation_based.functional")
    want = _steps(theirs, SJF.reset_net, list(x_seq))
    got = _steps(ours, functional.reset_net, list(x_seq))
    _spiking(ours)
    torch.testing.assert_close(got, want, rtol=0, atol=ATOL)
    with torch.no_grad():
        torch.testing.assert_close(got.sum(0), qann(x_seq[0]), rtol=0, atol=QANN_ATOL)
    for net, f in ((theirs, SJF), (ours, functional)):
        f.set_step_mode(net, "m")
        f.reset_net(net)
    with torch.no_grad():
        torch.testing.assert_close(ours(x_seq), theirs(x_seq), rtol=0, atol=ATOL)


def test_quantizer_and_sample_roberta_load_the_examples_weights():
    """sj's QANN side: the quantizer rounds half up and clips as SJ's example, and the sample RoBERTa has the
    example's parameter names: its weights load strictly and give its outputs."""
    example = _example()
    x = torch.linspace(-3, 3, 97, dtype=torch.float64)  # steps of 1/16: exact halves of s = 0.25 included
    for sym in (True, False):
        ours, theirs = SpikeZIPQuantizer(8, sym=sym).double(), example.SpikeZIPQuantizer(8, sym=sym).double()
        assert set(ours.state_dict()) == set(theirs.state_dict())
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)
    torch.manual_seed(0)
    theirs = example.TinyQRobertaClassifier(vocab_size=16, hidden_size=8, num_heads=2).double().eval()
    ours = TinyQRobertaClassifier(vocab_size=16, hidden_size=8, num_heads=2).double().eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    tokens = torch.randint(0, 16, (2, 5))
    with torch.no_grad():
        torch.testing.assert_close(ours(tokens), theirs(tokens), rtol=0, atol=ATOL)
