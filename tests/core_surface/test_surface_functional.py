"""sj.functional additions: first_spike_index, TET loss, spike_similar_loss, kaiming init, fuse_conv_bn."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sj import functional, layer


def test_first_spike_index_time_last_and_first():
    s = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0]])
    expected = torch.tensor([[False, True, False, False], [False] * 4, [True, False, False, False]])
    assert torch.equal(functional.first_spike_index(s), expected)
    assert torch.equal(functional.first_spike_index(s.t(), dim=0), expected.t())


def test_tet_loss_is_mean_over_time_of_cross_entropy():
    torch.manual_seed(0)
    x, y = torch.randn(4, 5, 3), torch.randint(0, 3, (5,))
    ref = torch.stack([F.cross_entropy(x[t], y) for t in range(4)]).mean()
    torch.testing.assert_close(functional.temporal_efficient_training_cross_entropy(x, y), ref)
    probs = F.one_hot(y, 3).float()
    torch.testing.assert_close(functional.temporal_efficient_training_cross_entropy(x, probs), ref)
    with pytest.raises(ValueError, match=r"\[T, N, C, \*\]"):
        functional.temporal_efficient_training_cross_entropy(x[0], y)


def test_spike_similar_loss_zero_for_matching_structure_and_positive_otherwise():
    a = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    spikes = torch.cat((a, a, b)).view(3, 2, 2)
    labels = torch.tensor([[1, 0], [1, 0], [0, 1]])
    assert functional.spike_similar_loss(spikes, labels).item() < 1e-6
    wrong = torch.tensor([[1, 0], [0, 1], [0, 1]])
    assert functional.spike_similar_loss(spikes, wrong).item() > 0.1
    assert functional.spike_similar_loss(spikes, labels, "gaussian", "bce", 1.0).item() > 0
    with pytest.raises(ValueError, match="loss_type"):
        functional.spike_similar_loss(spikes, labels, "linear", "huber")
    with pytest.raises(ValueError, match="kernel"):
        functional.kernel_dot_product(a, b, "rbf")


def test_kaiming_normal_conv_linear_weight_touches_only_weights():
    net = nn.Sequential(layer.Conv2d(2, 64, 3), nn.BatchNorm2d(64), nn.Flatten(), nn.Linear(64, 200))
    bias = net[0].bias.detach().clone()
    torch.manual_seed(0)
    assert functional.kaiming_normal_conv_linear_weight(net) == 2
    torch.testing.assert_close(net[0].bias.detach(), bias)
    fan_in = 2 * 9
    std = (2.0 / (1 + 5)) ** 0.5 / fan_in**0.5  # gain for leaky_relu with a=√5
    assert abs(net[0].weight.std().item() - std) / std < 0.1


@pytest.mark.parametrize("dims,bias", [(1, True), (2, False), (3, True)])
def test_fuse_conv_bn_equals_conv_then_bn_in_eval(dims, bias):
    torch.manual_seed(0)
    conv = getattr(layer, f"Conv{dims}d")(2, 3, 3, bias=bias, step_mode="m")
    bn = getattr(layer, f"BatchNorm{dims}d")(3, step_mode="m")
    x = torch.randn(2, 4, 2, *([6] * dims))
    bn(conv(x))  # populate running statistics
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    bn.eval()
    fused = functional.fuse_conv_bn(conv, bn)
    assert fused.step_mode == "m" and fused is not conv
    torch.testing.assert_close(fused(x), bn(conv(x)), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="output channels"):
        functional.fuse_conv_bn(conv, nn.BatchNorm2d(4))
    with pytest.raises(TypeError, match="Conv"):
        functional.fuse_conv_bn(nn.Linear(2, 3), bn)
