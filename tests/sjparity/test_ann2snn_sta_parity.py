"""sj.ann2snn's STA transformer recipe against SpikingJelly 2.0.0's ``STATransformerRecipe``: sj's ``TinyViT``
(two pre-norm blocks of ``nn.MultiheadAttention``, LayerNorm and a GELU MLP, class token, position embeddings)
converted by both, in mode ``'equivalent'`` and ``'spiking_encoder'`` (MSE and max thresholds, momentum over several
batches, a batch limit, a threshold scale).

- The converted models have the same state_dict (names and values: weights, time constants, calibrated thresholds).
- Every step's output agrees (float64, 1e-12: the same operations on the same values) in step mode ``'m'`` and
  ``'s'``; in ``'equivalent'`` mode the outputs sum to the ANN's.
- The threshold search and the spike encoder alone; the arguments SJ refuses, refused.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import spikingjelly

from sj import functional
from sj.ann2snn import Converter, STATransformerRecipe
from sj.ann2snn.sample_models import TinyViT
from sj.ann2snn.sta import STASpikeEncoder, sta_threshold

T = 8
ATOL = 1e-12


def _sta():
    return spikingjelly("activation_based.ann2snn.recipes.sta_transformer")


def _ann_and_data() -> tuple[torch.nn.Module, list[torch.Tensor]]:
    torch.manual_seed(0)
    ann = TinyViT(depth=2).double().eval()
    gen = torch.Generator().manual_seed(1)
    return ann, [torch.rand(4, 3, 8, 8, dtype=torch.float64, generator=gen) for _ in range(3)]


@pytest.mark.parametrize("kw", [
    {"mode": "equivalent"},
    {"mode": "spiking_encoder"},
    {"mode": "spiking_encoder", "threshold_mode": "MAX", "momentum": 0.5, "threshold_scale": 1.5,
     "num_calibration_batches": 2},
], ids=["equivalent", "encoder-mse", "encoder-max"])
def test_sta_recipe(kw):
    ann, data = _ann_and_data()
    sj2 = spikingjelly("activation_based.ann2snn")
    theirs = sj2.Converter(recipe=sj2.STATransformerRecipe(dataloader=data, time_steps=T, **kw)).convert(ann)
    ours = Converter(recipe=STATransformerRecipe(dataloader=data, time_steps=T, **kw)).convert(ann)
    want_state, got_state = theirs.state_dict(), ours.state_dict()
    assert set(got_state) == set(want_state)
    for name, value in want_state.items():
        torch.testing.assert_close(got_state[name], value, rtol=0, atol=0, msg=name)
    assert (ours.time_steps, ours.ann2snn_recipe) == (T, "sta_transformer")
    encoders = [n for n, m in ours.named_modules() if isinstance(m, STASpikeEncoder)]
    assert len(encoders) == (0 if kw["mode"] == "equivalent" else 2 * 4 + 1)  # norm1, attention, norm2, GELU; norm

    x_seq = torch.zeros(T, 2, 3, 8, 8, dtype=torch.float64)
    x_seq[0] = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    SJF = spikingjelly("activation_based.functional")
    with torch.no_grad():
        for mode in ("m", "s"):
            SJF.set_step_mode(theirs, mode)
            functional.set_step_mode(ours, mode)
            SJF.reset_net(theirs)
            functional.reset_net(ours)
            run = (lambda net: net(x_seq)) if mode == "m" else (lambda net: torch.stack([net(x) for x in x_seq]))
            want, got = run(theirs), run(ours)
            torch.testing.assert_close(got, want, rtol=0, atol=ATOL)
        if kw["mode"] == "equivalent":
            torch.testing.assert_close(got.sum(0), ann(x_seq[0]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["mse", "max"])
def test_threshold_search(mode):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 7, generator=gen) * torch.tensor([0.1, 1.0, 3.0, 0.0, 2.0, 1.0, 0.5])
    observer = _sta()._STAThresholdObserver(T, channel_dim=-1, mode=mode, momentum=0.1, eps=1e-6)
    observer(x)
    torch.testing.assert_close(sta_threshold(x, T, -1, mode, 1e-6), observer.compute_threshold(), rtol=0, atol=0)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_spike_encoder(step_mode):
    theta = torch.tensor([0.1, 0.25, 0.05], dtype=torch.float64)
    theirs = _sta()._STASpikeEncoder(theta, channel_dim=-1, step_mode=step_mode)
    ours = STASpikeEncoder(theta, channel_dim=-1, step_mode=step_mode)
    x_seq = torch.randn(6, 2, 4, 3, dtype=torch.float64)
    outs = [net(x_seq) if step_mode == "m" else torch.stack([net(x) for x in x_seq]) for net in (theirs, ours)]
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=0)
    torch.testing.assert_close(ours.mem, theirs.mem, rtol=0, atol=0)


@pytest.mark.parametrize("kw", [{"mode": "spiking_affine", "dataloader": [torch.zeros(1)]},
                                {"spike_linear": True, "dataloader": [torch.zeros(1)]},
                                {"mode": "spiking_encoder"}, {"time_steps": 0}, {"mode": "sta"},
                                {"threshold_mode": "median"}, {"threshold_scale": 0.0}, {"momentum": 1.5},
                                {"num_calibration_batches": 0}, {"eps": -1.0}, {"show_progress": 1}])
def test_refused_arguments(kw):
    ann, _ = _ann_and_data()
    sj2 = spikingjelly("activation_based.ann2snn")
    with pytest.raises(ValueError):
        sj2.Converter(recipe=sj2.STATransformerRecipe(**kw)).convert(ann)
    with pytest.raises(ValueError, match="STATransformerRecipe"):
        Converter(recipe=STATransformerRecipe(**kw)).convert(ann)
