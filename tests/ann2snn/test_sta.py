"""STA transformer conversion (sj.ann2snn.sta, STATransformerRecipe) without SpikingJelly: equivalence and
convergence, the encoder and the time constants against their definitions, which attributes stay constant, the
calibration batch formats, and bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sj import functional
from sj.ann2snn import Converter, STATransformerRecipe, TransformerTDEquivalentRecipe
from sj.ann2snn.modules import TimeContext
from sj.ann2snn.sample_models import TinyViT
from sj.ann2snn.sta import STAConstant, STASpikeEncoder, sta_threshold
from sj.base import StepModeError


def _vit() -> nn.Module:
    torch.manual_seed(0)
    return TinyViT().double().eval()


def _first_step(x: torch.Tensor, T: int) -> torch.Tensor:
    seq = x.new_zeros(T, *x.shape)
    seq[0] = x
    return seq


def _convert(ann: nn.Module, **kw) -> nn.Module:
    return Converter(recipe=STATransformerRecipe(**kw)).convert(ann)


def test_equivalent_mode_sums_to_the_ann_and_leaves_it_untouched():
    ann = _vit()
    before = {k: v.clone() for k, v in ann.state_dict().items()}
    snn = _convert(ann, time_steps=4)
    assert all(isinstance(m, nn.LayerNorm) for m in (ann.norm, ann.blocks[0].norm1))
    assert all(torch.equal(v, before[k]) for k, v in ann.state_dict().items())
    constants = [m for m in snn.modules() if isinstance(m, STAConstant)]
    assert sorted(tuple(m.value.shape) for m in constants) == [(1, 1, 16), (1, 5, 16)]
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        for T in (1, 6):  # the operators work for any T, not only time_steps
            functional.reset_net(snn)
            torch.testing.assert_close(snn(_first_step(x, T)).sum(0), ann(x), rtol=0, atol=1e-12)


def test_spiking_encoders_converge_with_more_steps():
    ann = _vit()
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    errors = []
    for T in (4, 32):
        snn = _convert(ann, dataloader=[x], time_steps=T, mode="spiking_encoder")
        with torch.no_grad():
            errors.append((snn(_first_step(x, T)).sum(0) - ann(x)).abs().max().item())
    assert errors[1] < errors[0] / 4, errors


def test_encoder_emits_multiples_of_its_step_tracking_the_input():
    theta = torch.tensor([0.1, 0.3], dtype=torch.float64)
    enc = STASpikeEncoder(theta, channel_dim=1, step_mode="m")
    x_seq = torch.randn(20, 5, 2, dtype=torch.float64)
    out = enc(x_seq)
    counts = out / theta.view(1, 1, 2)
    torch.testing.assert_close(counts, counts.round())
    residual = x_seq.cumsum(0) - out.cumsum(0)
    assert (residual.abs() < theta.view(1, 1, 2)).all()
    torch.testing.assert_close(enc.mem, residual[-1])
    first = torch.trunc(x_seq[0] / theta) * theta  # rounded toward zero
    torch.testing.assert_close(out[0], first)


def test_threshold_search():
    x = torch.randn(64, 3, dtype=torch.float64) * torch.tensor([0.5, 2.0, 0.0], dtype=torch.float64)
    peak = x.abs().amax(0).clamp(min=1e-6)
    torch.testing.assert_close(sta_threshold(x, 8, mode="max"), peak / 8)

    def error(theta):
        return (x - torch.trunc(x / theta) * theta).square().mean(0)

    mse = sta_threshold(x, 8, mode="mse")
    assert (error(mse) <= error(peak / 8)).all()  # max|x| is one of the candidates (factor 1)
    assert mse[2] == pytest.approx(1e-6 / 8)  # a silent channel: every candidate is clamped to eps
    with pytest.raises(ValueError, match="rank >= 2"):
        sta_threshold(torch.ones(3), 8)
    with pytest.raises(ValueError, match="'mse' or 'max'"):
        sta_threshold(x, 8, mode="p99")


def test_time_constant_in_every_mode():
    value = nn.Parameter(torch.randn(1, 2, 3))
    const = STAConstant(value, time_steps=3, step_mode="s")
    assert isinstance(const.value, nn.Parameter) and const.value is not value
    assert torch.equal(const(), value) and const().abs().sum() == 0
    functional.reset_net(const)
    const.step_mode = "m"
    seq = const()
    assert seq.shape == (3, 1, 2, 3) and torch.equal(seq[0], value) and seq[1:].abs().sum() == 0
    const.time = TimeContext()
    const.time.T, const.time.N = 2, 4
    assert const().abs().sum() == 0  # already past its first step
    functional.reset_net(const)
    folded = const()
    assert folded.shape == (8, 2, 3) and torch.equal(folded[:4], value.expand(4, 2, 3)) and folded[4:].abs().sum() == 0
    bad = STAConstant(torch.ones(3), 2, step_mode="m")
    bad.time = const.time
    with pytest.raises(StepModeError, match="leading batch dimension"):
        bad()


class _Masked(nn.Module):
    """An attention given a mask buffer (it stays constant), a position offset and a matrix multiplied with ``@``
    (time constants: counted once)."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 1, batch_first=True)
        self.register_buffer("mask", torch.triu(torch.full((3, 3), -1e4), 1))
        self.w = nn.Parameter(torch.randn(4, 4))
        self.offset = nn.Parameter(torch.randn(1, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x @ self.w + self.offset
        return self.attn(h, h, h, attn_mask=self.mask)[0]  # need_weights left unset, the weights unused


def test_what_stays_constant_and_unused_attention_weights():
    torch.manual_seed(0)
    ann = _Masked().double().eval()
    snn = _convert(ann, time_steps=4)
    assert {n.target for n in snn.graph.nodes if n.op == "get_attr"} == {"mask"}
    consts = sorted((m for m in snn.modules() if isinstance(m, STAConstant)), key=lambda m: m.value.dim())
    assert [torch.equal(c.value, p) for c, p in zip(consts, (ann.w, ann.offset), strict=True)] == [True, True]
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    functional.set_step_mode(snn, "s")
    with torch.no_grad():
        torch.testing.assert_close(sum(snn(x_t) for x_t in _first_step(x, 5)), ann(x), rtol=0, atol=1e-12)
    functional.set_step_mode(snn, "m")
    functional.reset_net(snn)
    with pytest.raises(StepModeError, match=r"shape \(4, 4\): step mode 'm' needs a leading batch dimension"):
        snn(_first_step(x, 5))
    with pytest.raises(ValueError, match="need_weights=False"):
        Converter(recipe=TransformerTDEquivalentRecipe()).convert(ann)  # the TD recipe keeps asking for it


class _UsesWeights(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 1, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, weights = self.attn(x, x, x)
        return out + weights.sum()


def test_attention_weights_in_use_are_refused():
    with pytest.raises(ValueError, match="need_weights=False"):
        _convert(_UsesWeights().eval())


@pytest.mark.parametrize("batch", ["tensor", "tuple", "args_kwargs", "dict"])
def test_calibration_batch_formats(batch):
    ann = _vit()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    data = {"tensor": [x], "tuple": [(x, torch.zeros(2))], "args_kwargs": [((x,), {})], "dict": [{"x": x}]}[batch]
    snn = _convert(ann, dataloader=data, time_steps=4, mode="spiking_encoder")
    reference = _convert(ann, dataloader=[x], time_steps=4, mode="spiking_encoder")
    thresholds = [m.v_threshold for m in snn.modules() if isinstance(m, STASpikeEncoder)]
    assert len(thresholds) == 5
    for got, want in zip(thresholds, (m.v_threshold for m in reference.modules() if isinstance(m, STASpikeEncoder)),
                         strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_calibration_problems():
    ann = _vit()
    with pytest.raises(ValueError, match="saw no calibration data"):
        _convert(ann, dataloader=[], time_steps=4, mode="spiking_encoder")
    with pytest.raises(ValueError, match="pass dataloader"):
        _convert(ann, mode="spiking_encoder")
    with pytest.raises(ValueError, match="spiking affine"):
        _convert(ann, mode="spiking_affine", dataloader=[torch.zeros(1)])
    with pytest.raises(ValueError, match=r"cannot convert module 'act' \(ReLU\)"):
        _convert(_ReLUNet().eval())


class _ReLUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.act = nn.Linear(2, 2), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(x))
