"""The Qwen2 spiking-LLM conversion (sj.ann2snn.recipes.qwen2, sj.ann2snn.qwen2_snn) on a tiny randomly initialised
Hugging Face Qwen2: the exact encoding reproduces the model (with and without the key/value cache), spikes approach
it as T grows, calibration against its definition (padding ignored), the calibration's round trip, and bad input.
Needs ``transformers`` (``pip install sj-models[qwen]``); skipped without it."""

from __future__ import annotations

import io

import pytest
import torch

transformers = pytest.importorskip("transformers")

from sj import functional  # noqa: E402
from sj.ann2snn import (  # noqa: E402
    ModuleConverter,
    Qwen2SNNCalibration,
    Qwen2SNNConfig,
    Qwen2SNNRecipe,
    calibrate_qwen2_snn,
)


def _qwen2(**kw) -> torch.nn.Module:
    config = transformers.Qwen2Config(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32, **kw)
    torch.manual_seed(0)
    return transformers.Qwen2ForCausalLM(config).eval()


def _batch(padded: bool = True) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 64, (2, 6), generator=gen)
    mask = torch.ones_like(ids)
    if padded:
        ids[1, :2], mask[1, :2] = 0, 0  # left padding with token 0
    return {"input_ids": ids, "attention_mask": mask}


def _convert(model: torch.nn.Module, config: Qwen2SNNConfig, batches: list) -> torch.nn.Module:
    calibration = calibrate_qwen2_snn(model, batches, config)
    return ModuleConverter(recipe=Qwen2SNNRecipe(calibration, config)).convert(model)


def test_exact_encoding_is_the_model_with_and_without_cache():
    model = _qwen2()
    batch = _batch()
    snn = _convert(model, Qwen2SNNConfig(time_steps=4, calibration_levels=4), [batch])
    valid = batch["attention_mask"].bool()
    with torch.no_grad():
        want = model(**batch).logits
        got = snn(**batch, encoding_mode="exact_td").logits
        torch.testing.assert_close(got[valid], want[valid], rtol=0, atol=1e-5)
        functional.reset_net(snn)
        prefix = {"input_ids": batch["input_ids"][:, :-1], "attention_mask": batch["attention_mask"][:, :-1]}
        cache = snn(**prefix, encoding_mode="exact_td", use_cache=True).past_key_values
        assert cache.get_seq_length() == 5
        functional.reset_net(snn)
        last = snn(batch["input_ids"][:, -1:], attention_mask=batch["attention_mask"], encoding_mode="exact_td",
                   past_key_values=cache, use_cache=True).logits
    torch.testing.assert_close(last[:, 0], want[:, -1], rtol=0, atol=1e-5)
    assert cache.get_seq_length() == 6


def test_spikes_approach_the_model_as_t_grows():
    model = _qwen2()
    batch = _batch(padded=False)
    with torch.no_grad():
        want = model(**batch).logits
        errors = []
        for T in (4, 64):
            snn = _convert(model, Qwen2SNNConfig(time_steps=T, calibration_levels=T), [batch])
            errors.append((snn(**batch).logits - want).abs().max().item())
            stats = snn.encoder_statistics()
            assert len(stats) == 1 + 2 * 4 and all(s["local_relative_l2"] < 1 for s in stats)
    assert errors[1] < errors[0] / 4, errors


def test_calibration_follows_its_definition():
    model = _qwen2()
    with torch.no_grad():
        model.model.embed_tokens.weight[0] = 100.0  # the padding token: must not count
    batch = _batch()
    calibration = calibrate_qwen2_snn(model, [batch], Qwen2SNNConfig(time_steps=8, calibration_levels=4))
    embeddings = model.model.embed_tokens(batch["input_ids"])[batch["attention_mask"].bool()]
    torch.testing.assert_close(calibration.input_scale, embeddings.abs().amax(0).clamp_min(1e-6) / 4)
    assert calibration.valid_token_count == 10 and len(calibration.layer_scales) == 2
    buffer = io.BytesIO()
    torch.save(calibration.state_dict(), buffer)
    buffer.seek(0)
    restored = Qwen2SNNCalibration.from_state_dict(torch.load(buffer))
    assert restored.state_dict().keys() == calibration.state_dict().keys()
    torch.testing.assert_close(restored.layer_scales[1]["mlp"], calibration.layer_scales[1]["mlp"])
    broken = calibration.state_dict()
    del broken["tensors"]["layer.1.mlp"]
    with pytest.raises(ValueError, match="every layer needs the scales"):
        Qwen2SNNCalibration.from_state_dict(broken)
    broken["tensors"]["layer.x.mlp"] = torch.ones(1)
    with pytest.raises(ValueError, match="invalid tensor key"):
        Qwen2SNNCalibration.from_state_dict(broken)


@pytest.mark.parametrize("kw, error", [({"time_steps": 0}, ValueError), ({"time_steps": 2.0}, TypeError),
                                       ({"calibration_levels": 64}, ValueError),
                                       ({"calibration_quantile": 0.0}, ValueError),
                                       ({"calibration_reservoir_size": 0}, ValueError),
                                       ({"calibration_seed": True}, TypeError)])
def test_config_errors(kw, error):
    with pytest.raises(error):
        Qwen2SNNConfig(**kw)


def test_conversion_errors():
    model = _qwen2()
    batch = _batch()
    config = Qwen2SNNConfig(time_steps=4, calibration_levels=4)
    calibration = calibrate_qwen2_snn(model, [batch], config)
    with pytest.raises(ValueError, match="differs from the config"):
        ModuleConverter(recipe=Qwen2SNNRecipe(calibration, Qwen2SNNConfig(time_steps=8, calibration_levels=4))
                        ).convert(model)
    with pytest.raises(ValueError, match="evaluation mode"):
        ModuleConverter(recipe=Qwen2SNNRecipe(calibration, config)).convert(model.train())
    model.eval()
    with pytest.raises(TypeError, match="Qwen2 causal LM"):
        ModuleConverter(recipe=Qwen2SNNRecipe(calibration, config)).convert(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="hidden_act='silu'"):
        calibrate_qwen2_snn(_qwen2(hidden_act="gelu"), [batch], config)
    with pytest.raises(TypeError, match="'input_ids' and 'attention_mask'"):
        calibrate_qwen2_snn(model, [{"input_ids": batch["input_ids"]}], config)
    with pytest.raises(ValueError, match="no valid token"):
        calibrate_qwen2_snn(model, [{**batch, "attention_mask": torch.zeros_like(batch["attention_mask"])}], config)
    snn = ModuleConverter(recipe=Qwen2SNNRecipe(calibration, config)).convert(model)
    with pytest.raises(ValueError, match="encoding_mode"):
        snn(**batch, encoding_mode="rate")
    with pytest.raises(ValueError, match="use_cache=True"):
        snn(**batch, past_key_values=snn(**batch, use_cache=True).past_key_values)
    with pytest.raises(ValueError, match="greedily"):
        snn.generate(batch["input_ids"], max_new_tokens=1, do_sample=True)
