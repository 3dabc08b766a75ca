"""sj.ann2snn's Qwen2 spiking-LLM conversion against SpikingJelly 2.0.0's (``calibrate_qwen2_snn``,
``Qwen2SNNRecipe``, ``Qwen2SNNModel``) on a tiny randomly initialised Hugging Face Qwen2 (config only, no download;
2 decoders, grouped-query attention 4/2 heads), with tied and untied head, exact maximum and reservoir-quantile
calibration over two batches (one left-padded).

- The calibrated scales and token counts are SJ's, exactly (the reservoir draws from the same seeded generator).
- The converted model has SJ's state_dict, the same logits (0 difference: the same operations in the same order) in the
  three encodings, the same greedy generation with the key/value cache, encoder statistics and structure summary.

Needs ``transformers`` (``pip install sj-models[qwen]``); skipped without it. transformers is imported before the
oracle stubs torchvision (it probes for torchvision).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import spikingjelly  # noqa: E402

from sj import ann2snn, functional  # noqa: E402


def _qwen2(tie: bool) -> torch.nn.Module:
    config = transformers.Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                                      tie_word_embeddings=tie)
    torch.manual_seed(0)
    return transformers.Qwen2ForCausalLM(config).eval()


@pytest.mark.parametrize("tie, quantile", [(False, 0.99), (True, 1.0)])
def test_qwen2_conversion(tie, quantile):
    sj2 = spikingjelly("activation_based.ann2snn")
    model = _qwen2(tie)
    ids = torch.randint(0, 64, (2, 6))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    batches = [{"input_ids": ids, "attention_mask": mask},
               {"input_ids": torch.randint(0, 64, (3, 5)), "attention_mask": torch.ones(3, 5, dtype=torch.long)}]
    kw = {"time_steps": 16, "calibration_levels": 8, "calibration_quantile": quantile,
          "calibration_reservoir_size": 6}
    theirs = sj2.calibrate_qwen2_snn(model, batches, sj2.Qwen2SNNConfig(**kw))
    ours = ann2snn.calibrate_qwen2_snn(model, batches, ann2snn.Qwen2SNNConfig(**kw))
    assert ours.valid_token_count == theirs.valid_token_count == 25
    want, got = theirs.state_dict(), ours.state_dict()
    assert {k: v for k, v in got.items() if k != "tensors"} == {k: v for k, v in want.items() if k != "tensors"}
    assert set(got["tensors"]) == set(want["tensors"])
    for name, value in want["tensors"].items():
        torch.testing.assert_close(got["tensors"][name], value, rtol=0, atol=0, msg=name)

    snn2 = sj2.ModuleConverter(recipe=sj2.Qwen2SNNRecipe(theirs, sj2.Qwen2SNNConfig(**kw))).convert(model)
    snn = ann2snn.ModuleConverter(recipe=ann2snn.Qwen2SNNRecipe(ours, ann2snn.Qwen2SNNConfig(**kw))).convert(model)
    state2, state = snn2.state_dict(), snn.state_dict()
    assert set(state) == set(state2)
    for name, value in state2.items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0, msg=name)
    with torch.no_grad():
        for mode in ("exact_td", "qcfs_sg", "signed_if"):
            functional.reset_net(snn)
            for m in snn2.modules():
                if callable(getattr(m, "reset", None)):
                    m.reset()
            logits = snn(ids, attention_mask=mask, encoding_mode=mode).logits
            torch.testing.assert_close(logits, snn2(ids, attention_mask=mask, encoding_mode=mode).logits,
                                       rtol=0, atol=0)
            if mode == "signed_if":
                assert snn.encoder_statistics() == snn2.encoder_statistics()
        assert torch.equal(snn.generate(ids, attention_mask=mask, max_new_tokens=4),
                           snn2.generate(ids, attention_mask=mask, max_new_tokens=4))
    assert snn.structure_summary() == snn2.structure_summary()
    assert snn.structure_summary()["lm_head_tied_to_embedding"] is tie
