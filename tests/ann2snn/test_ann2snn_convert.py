"""ANN → SNN conversion: accuracy on digits, Conv-BN fusion, graph handling, calibration statistics, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sj import layer
from sj.ann2snn import (
    ActivationObserver,
    ConvertedSNN,
    Converter,
    SpikingReLU,
    UnsupportedOperationError,
    accuracy_over_time,
    fuse_conv_bn_model,
)
from sj.ann2snn.pooling import AccumulatedMaxPool
from sj.functional import reset_net
from sj.neuron import IFNode


def _randomise_bn(net: nn.Module) -> None:
    gen = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=gen) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=gen) * 0.2 - 0.1)


class ResidualConcatNet(nn.Module):
    """Residual addition, concatenation, a ReLU module called twice, max and average pooling, flatten."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.c2, self.b2 = nn.Conv2d(6, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * 6 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.relu(self.b1(self.c1(x)))
        b = self.relu(self.b2(self.c2(a)) + a)  # residual; self.relu used a second time
        c = torch.cat([self.pool(b), F.avg_pool2d(a, 2)], dim=1)
        return self.fc(torch.flatten(c, 1))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def residual_net() -> nn.Module:
    torch.manual_seed(0)
    net = ResidualConcatNet()
    _randomise_bn(net)
    return net.eval()


# --------------------------------------------------------------------------------------------- digits accuracy
def test_converted_digits_cnn_keeps_98_percent_of_ann_accuracy_at_T64():
    pytest.importorskip("sklearn")
    from sj.ann2snn.demo import ann_accuracy, digits_cnn, train_ann
    from sj.demo.data import load_digits_split

    torch.manual_seed(0)
    x_tr, y_tr, x_te, y_te = load_digits_split(seed=0)
    ann = digits_cnn(channels=8)
    train_ann(ann, x_tr, y_tr, epochs=8, seed=0)
    ann_acc = ann_accuracy(ann, x_te, y_te)
    assert ann_acc > 0.9, f"the ANN did not learn the digits (accuracy {ann_acc:.3f})"
    snn = Converter(mode="max", momentum=None, progress=False)(ann, [x_tr[i:i + 512] for i in range(0, 1347, 512)])
    acc = accuracy_over_time(snn, x_te, y_te, (8, 64))
    assert acc[64] >= 0.98 * ann_acc, f"SNN {acc} vs ANN {ann_acc:.4f}"
    assert acc[8] < acc[64] + 1e-9  # more steps do not hurt on this net
    assert len(snn.neurons()) == 2 and len(snn.scales()) == 2


# --------------------------------------------------------------------------------------------- fusion
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_fused_conv_bn_equals_unfused_in_eval(dims):
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    bn = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
    torch.manual_seed(dims)
    net = nn.Sequential(conv(3, 4, 3, padding=1), bn(4), nn.ReLU(), conv(4, 4, 3, bias=False), bn(4))
    _randomise_bn(net)
    net.eval()
    x = torch.randn(2, 3, *([6] * dims))
    fused = fuse_conv_bn_model(net)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fused.modules())
    torch.testing.assert_close(fused(x), net(x), rtol=1e-5, atol=1e-5)
    assert any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())  # the input is untouched


def test_fusion_handles_sj_layers_and_keeps_a_bn_whose_conv_is_shared():
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = layer.Conv2d(2, 2, 3, padding=1), layer.BatchNorm2d(2)

        def forward(self, x):
            return self.bn(self.conv(x)) + self.conv(x)  # fusing would change the second use

    torch.manual_seed(0)
    net = Shared()
    _randomise_bn(net)
    net.eval()
    fused = fuse_conv_bn_model(net)
    assert any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    x = torch.randn(2, 2, 5, 5)
    torch.testing.assert_close(fused(x), net(x))

    seq = nn.Sequential(layer.Conv2d(2, 3, 3), layer.BatchNorm2d(3), nn.ReLU()).eval()
    _randomise_bn(seq)
    fused = fuse_conv_bn_model(seq)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    torch.testing.assert_close(fused(x), seq(x), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------- graph handling
def test_residual_concat_pooling_rates_converge_to_ann(residual_net):
    x = torch.rand(16, 1, 8, 8)
    snn = Converter(mode="max", momentum=None, progress=False)(residual_net, x)
    # one ReLU module called twice gives two spiking ReLUs, and the max pooling is gated by accumulated input
    assert len(snn.neurons()) == 2
    assert sum(isinstance(m, AccumulatedMaxPool) for m in snn.modules()) == 1
    ref = residual_net(x)
    errors = [(snn.run_static(x, T).mean(0) - ref).abs().max().item() for T in (16, 512)]
    assert errors[1] < 0.5 * errors[0], errors
    assert errors[1] < 0.1 * ref.abs().max().item(), errors


def test_every_neuron_is_a_soft_reset_if_in_multistep_mode(residual_net):
    snn = Converter(progress=False)(residual_net, torch.rand(4, 1, 8, 8))
    for n in snn.neurons():
        assert isinstance(n, IFNode) and n.soft_reset and n.step_mode == "m" and n.backend == "torch"
        assert float(n.v_threshold) == 1.0
    out = snn(torch.rand(3, 4, 1, 8, 8))
    assert out.shape == (3, 4, 5)


def test_a_sequence_fed_in_chunks_equals_it_fed_at_once(residual_net):
    snn = Converter(progress=False)(residual_net, torch.rand(8, 1, 8, 8))
    x_seq = torch.rand(10, 3, 1, 8, 8)
    reset_net(snn)
    whole = snn(x_seq)
    reset_net(snn)
    parts = torch.cat([snn(x_seq[:4]), snn(x_seq[4:5]), snn(x_seq[5:])])
    torch.testing.assert_close(parts, whole)


def test_the_ann_is_not_modified(residual_net):
    before = {k: v.clone() for k, v in residual_net.state_dict().items()}
    Converter(progress=False)(residual_net, torch.rand(4, 1, 8, 8))
    after = residual_net.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert any(isinstance(m, nn.BatchNorm2d) for m in residual_net.modules())


def test_channelwise_scales_have_one_value_per_channel(residual_net):
    x = torch.rand(16, 1, 8, 8)
    snn = Converter(channelwise=True, momentum=None, progress=False)(residual_net, x)
    assert [tuple(s.shape) for s in snn.scales()] == [(6, 1, 1), (6, 1, 1)]
    err = (snn.run_static(x, 256).mean(0) - residual_net(x)).abs().max().item()
    assert err < 0.1 * residual_net(x).abs().max().item()


# --------------------------------------------------------------------------------------------- calibration
def test_max_and_percentile_statistics_match_their_definitions():
    x = torch.randn(50, 3, 4, 4)
    y = torch.relu(x)
    obs = ActivationObserver("max", momentum=None)
    obs(x)
    torch.testing.assert_close(obs.scale, y.max().double())
    obs = ActivationObserver("90%", momentum=None)
    obs(x)
    nearest_rank = y.flatten().sort().values[math.ceil(0.9 * y.numel()) - 1]  # smallest value ≥ 90 % of them
    torch.testing.assert_close(obs.scale, nearest_rank.double())
    obs = ActivationObserver(0.5, momentum=None, channelwise=True)
    obs(x)
    torch.testing.assert_close(obs.scale, 0.5 * y.transpose(0, 1).flatten(1).amax(1).double())
    assert obs.broadcast_scale().shape == (3, 1, 1)


def test_momentum_and_batch_averaging():
    a, b = torch.full((2, 3), 2.0), torch.full((2, 3), 4.0)
    obs = ActivationObserver("max", momentum=0.25)
    obs(a)
    obs(b)
    assert obs.scale.item() == pytest.approx(0.75 * 2 + 0.25 * 4)
    obs = ActivationObserver("max", momentum=None)
    for batch in (a, b, b):
        obs(batch)
    assert obs.scale.item() == pytest.approx((2 + 4 + 4) / 3)


def test_calibration_uses_tuple_batches_and_max_batches(residual_net):
    x = torch.rand(8, 1, 8, 8)
    big = x * 10
    loader = [(x, torch.zeros(8)), (big, torch.zeros(8))]
    one = Converter(momentum=None, progress=False, max_batches=1)(residual_net, loader)
    both = Converter(momentum=None, progress=False)(residual_net, loader)
    assert all((s2 > s1).all() for s1, s2 in zip(one.scales(), both.scales()))


# --------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("net", "named"), [
    (nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 2)), "Sigmoid"),
    (nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.ReLU()), "GELU"),
    (nn.Sequential(nn.Linear(4, 4), IFNode(), nn.ReLU()), "IFNode"),
])
def test_unsupported_modules_raise_naming_them(net, named):
    with pytest.raises(UnsupportedOperationError, match=named):
        Converter(progress=False)(net, torch.rand(2, 4))


def test_products_of_activations_and_unknown_functions_are_rejected():
    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return torch.relu(self.a(x)) * torch.tanh(self.b(x)) * 2.0

    with pytest.raises(UnsupportedOperationError, match=r"tanh.*|.*two activations"):
        Converter(progress=False)(Gated(), torch.rand(2, 4))


def test_step_mode_m_layers_are_rejected():
    net = nn.Sequential(layer.Linear(4, 4, step_mode="m"), nn.ReLU())
    with pytest.raises(UnsupportedOperationError, match="step_mode='m'"):
        Converter(progress=False)(net, torch.rand(2, 4))


def test_bad_arguments_raise_clear_errors():
    for mode in ("min", "101%", "x%", 0.0, 1.5, True):
        with pytest.raises(ValueError, match="mode"):
            Converter(mode=mode)
    for momentum in (0.0, 1.5, "a"):
        with pytest.raises(ValueError, match="momentum"):
            Converter(momentum=momentum)
    with pytest.raises(ValueError, match="no ReLU"):
        Converter(progress=False)(nn.Sequential(nn.Linear(4, 2)), torch.rand(2, 4))
    with pytest.raises(ValueError, match="no batch"):
        Converter(progress=False)(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), [])
    with pytest.raises(TypeError, match="batch 0"):
        Converter(progress=False)(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), ["not a tensor"])
    with pytest.raises(ValueError, match="scale"):
        SpikingReLU(torch.tensor([1.0, 0.0]))
    snn = ConvertedSNN(SpikingReLU(1.0))
    with pytest.raises(ValueError, match="T"):
        snn.run_static(torch.rand(2, 3), 0)
    with pytest.raises(Exception, match=r"\[T, N, \*\]"):
        snn(torch.rand(3))


def test_a_dead_relu_gets_a_tiny_scale_and_stays_silent():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
        net[0].bias.zero_()
    snn = Converter(momentum=None, progress=False)(net, torch.rand(8, 2))
    assert snn.scales()[0].shape == ()  # one scale per ReLU; the dead unit shares it
    net2 = nn.Sequential(nn.Linear(2, 1), nn.ReLU())
    with torch.no_grad():
        net2[0].weight.fill_(-1.0)
        net2[0].bias.zero_()
    snn2 = Converter(momentum=None, progress=False)(net2, torch.rand(8, 2))
    assert 0 < snn2.scales()[0].item() <= 1e-6
    assert snn2.run_static(torch.rand(4, 2), 8).abs().max().item() <= 1e-6
