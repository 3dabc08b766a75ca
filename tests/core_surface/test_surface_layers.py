"""sj.layer: every wrapper in 'm' equals the torch module per step / on the folded batch; rank errors; dropout."""

import pytest
import torch
from torch import nn

from sj import layer
from sj.base import StateShapeError, StepModeError
from sj.functional import reset_net

T, N = 3, 2

# (factory(step_mode) -> module, single-step input shape, per-step equivalent: True if stats do not mix the batch)
CASES = {
    "Linear": (lambda m: layer.Linear(5, 4, step_mode=m), (N, 5)),
    "Conv1d": (lambda m: layer.Conv1d(2, 3, 3, padding=1, step_mode=m), (N, 2, 6)),
    "Conv2d": (lambda m: layer.Conv2d(2, 3, 3, stride=2, step_mode=m), (N, 2, 7, 7)),
    "Conv3d": (lambda m: layer.Conv3d(2, 3, 2, step_mode=m), (N, 2, 3, 4, 4)),
    "ConvTranspose1d": (lambda m: layer.ConvTranspose1d(2, 3, 3, stride=2, step_mode=m), (N, 2, 5)),
    "ConvTranspose2d": (lambda m: layer.ConvTranspose2d(2, 3, 3, stride=2, step_mode=m), (N, 2, 4, 4)),
    "BatchNorm1d": (lambda m: layer.BatchNorm1d(3, step_mode=m), (N, 3, 4)),
    "BatchNorm2d": (lambda m: layer.BatchNorm2d(3, step_mode=m), (N, 3, 4, 4)),
    "BatchNorm3d": (lambda m: layer.BatchNorm3d(3, step_mode=m), (N, 3, 2, 3, 3)),
    "GroupNorm": (lambda m: layer.GroupNorm(2, 4, step_mode=m), (N, 4, 3, 3)),
    "MaxPool1d": (lambda m: layer.MaxPool1d(2, step_mode=m), (N, 2, 6)),
    "MaxPool2d": (lambda m: layer.MaxPool2d(2, step_mode=m), (N, 2, 6, 6)),
    "MaxPool3d": (lambda m: layer.MaxPool3d(2, step_mode=m), (N, 2, 4, 4, 4)),
    "AvgPool1d": (lambda m: layer.AvgPool1d(2, step_mode=m), (N, 2, 6)),
    "AvgPool2d": (lambda m: layer.AvgPool2d(2, step_mode=m), (N, 2, 6, 6)),
    "AvgPool3d": (lambda m: layer.AvgPool3d(2, step_mode=m), (N, 2, 4, 4, 4)),
    "AdaptiveAvgPool1d": (lambda m: layer.AdaptiveAvgPool1d(2, step_mode=m), (N, 2, 7)),
    "AdaptiveAvgPool2d": (lambda m: layer.AdaptiveAvgPool2d((2, 3), step_mode=m), (N, 2, 7, 5)),
    "AdaptiveAvgPool3d": (lambda m: layer.AdaptiveAvgPool3d(1, step_mode=m), (N, 2, 3, 4, 4)),
    "Flatten": (lambda m: layer.Flatten(step_mode=m), (N, 2, 3, 4)),
    "Upsample": (lambda m: layer.Upsample(scale_factor=2, mode="nearest", step_mode=m), (N, 2, 3, 3)),
    "VotingLayer": (lambda m: layer.VotingLayer(3, step_mode=m), (N, 6)),
}
BATCH_STATS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_multi_step_equals_folded_and_per_step(name):
    factory, shape = CASES[name]
    torch.manual_seed(0)
    m_mod = factory("m")
    s_mod = factory("s")
    s_mod.load_state_dict(m_mod.state_dict())
    x_seq = torch.randn(T, *shape)
    y_seq = m_mod(x_seq)
    # the plain torch module on the folded batch (the parent torch class of the wrapper)
    if name == "VotingLayer":
        folded = x_seq.flatten(0, 1).unflatten(-1, (-1, 3)).mean(-1)
    else:
        plain = next(c for c in type(m_mod).__mro__ if c.__module__.startswith("torch.nn") and c is not nn.Module)
        folded = plain.forward(s_mod, x_seq.flatten(0, 1))
    torch.testing.assert_close(y_seq, folded.view(T, N, *folded.shape[1:]))
    if name not in BATCH_STATS:  # per step equals the single-step module
        s_mod.eval()
        m_mod.eval()
        torch.testing.assert_close(m_mod(x_seq), torch.stack([s_mod(x) for x in x_seq]))


def test_batchnorm_multi_step_statistics_over_time_and_batch():
    bn = layer.BatchNorm2d(3, step_mode="m", affine=False)
    x = torch.randn(T, N, 3, 4, 4) * 3 + 1
    y = bn(x)
    torch.testing.assert_close(y.mean(dim=(0, 1, 3, 4)), torch.zeros(3), atol=1e-5, rtol=0)
    expected_running = 0.9 * 0 + 0.1 * x.mean(dim=(0, 1, 3, 4))
    torch.testing.assert_close(bn.running_mean, expected_running)


@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_rank_raises_naming_layout(name):
    factory, shape = CASES[name]
    m = factory("m")
    with pytest.raises(StepModeError, match=type(m).__name__ + r" in step_mode='m' needs"):
        m(torch.randn(5))
    if name not in ("BatchNorm1d", "Upsample", "Linear", "GroupNorm", "Flatten", "VotingLayer"):  # one valid rank
        with pytest.raises(StepModeError, match=r"\[T, N"):
            m(torch.randn(*shape))


def test_conv2d_m_needs_5d_message():
    with pytest.raises(StepModeError, match=r"5-D input \[T, N, C, H, W\]"):
        layer.Conv2d(1, 1, 3, step_mode="m")(torch.zeros(2, 1, 5, 5))
    with pytest.raises(StepModeError, match="4-D input"):
        layer.Conv2d(1, 1, 3, step_mode="s")(torch.zeros(2, 2, 1, 5, 5))


def test_invalid_step_mode_rejected():
    with pytest.raises(StepModeError):
        layer.Linear(2, 2, step_mode="x")


@pytest.mark.parametrize("cls,shape,mask_dims", [(layer.Dropout, (N, 4, 3, 3), None),
                                                 (layer.Dropout2d, (N, 4, 3, 3), (N, 4, 1, 1))])
def test_dropout_mask_shared_over_time_and_renewed_after_reset(cls, shape, mask_dims):
    torch.manual_seed(0)
    d = cls(0.5, step_mode="m")
    x = torch.ones(T, *shape)
    y = d(x)
    assert set(y.unique().tolist()) <= {0.0, 2.0} and (y == 0).any() and (y == 2).any()
    for t in range(1, T):
        assert torch.equal(y[t], y[0])
    assert torch.equal(d(x), y)  # same mask until reset
    if mask_dims is not None:
        assert d.mask.shape == mask_dims
        assert (y[0] == y[0, :, :, :1, :1]).all()  # whole channels dropped
    reset_net(d)
    assert d.mask is None
    y2 = d(x)
    assert not torch.equal(y2, y)
    # single-step mode: the mask of the first step is reused by the next steps
    d_s = cls(0.5, step_mode="s")
    first = d_s(x[0])
    assert torch.equal(d_s(x[1]), first)
    d_s.eval()
    assert torch.equal(d_s(x[0]), x[0])
    with pytest.raises(StateShapeError):
        d(torch.ones(T, N + 1, *shape[1:]))
    with pytest.raises(ValueError, match="p must be in"):
        cls(1.0)


def test_dropout_keeps_expected_fraction():
    torch.manual_seed(1)
    d = layer.Dropout(0.25, step_mode="m")
    y = d(torch.ones(2, 100, 100))
    assert abs((y[0] == 0).float().mean().item() - 0.25) < 0.02
    torch.testing.assert_close(y.mean(), torch.tensor(1.0), atol=0.03, rtol=0)
