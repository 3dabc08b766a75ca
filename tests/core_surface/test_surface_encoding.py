"""sj.encoding: Poisson statistics, exact latency and phase codes, periodic output, Gaussian population."""

import math

import pytest
import torch

from sj import encoding
from sj.functional import reset_net


def test_poisson_rate_close_to_input():
    torch.manual_seed(0)
    x = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]).repeat(2000, 1)
    enc = encoding.PoissonEncoder(step_mode="m")
    s = enc(x.unsqueeze(0).expand(5, -1, -1))
    rate = s.mean(dim=(0, 1))
    # 10000 Bernoulli draws per entry: 4 standard deviations ≤ 0.02
    torch.testing.assert_close(rate, x[0], atol=0.02, rtol=0)
    assert rate[0] == 0 and rate[-1] == 1
    assert set(s.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        enc(torch.tensor([[1.5]]))


def test_latency_linear_exact_code_and_cycle():
    enc = encoding.LatencyEncoder(5)
    x = torch.tensor([[1.0, 0.5, 0.0, 0.26]])
    # t_f = round(4 * (1 - x)) = [0, 2, 4, 3]
    out = torch.stack([enc(x) for _ in range(10)])
    expected = torch.zeros(5, 1, 4)
    for i, t in enumerate([0, 2, 4, 3]):
        expected[t, 0, i] = 1
    torch.testing.assert_close(out[:5], expected)
    torch.testing.assert_close(out[5:], expected)  # cyclic
    reset_net(enc)
    assert enc.spike is None and enc.t == 0


def test_latency_log_exact_code():
    T = 6
    enc = encoding.LatencyEncoder(T, "log")
    x = torch.tensor([1.0, 0.0, 0.3, 0.05])
    alpha = math.exp(T - 1) - 1
    t_f = [round(T - 1 - math.log(alpha * v + 1)) for v in x.tolist()]
    assert enc.spike_time(x).tolist() == t_f and t_f[0] == 0 and t_f[1] == T - 1
    code = enc.encode(x)
    assert code.shape == (T, 4) and code.sum(0).tolist() == [1.0] * 4
    with pytest.raises(ValueError, match="enc_function"):
        encoding.LatencyEncoder(4, "exp")


def test_weighted_phase_reconstructs_input():
    K = 4
    enc = encoding.WeightedPhaseEncoder(K, step_mode="m")
    x = torch.tensor([[0.0, 0.5, 0.625, 0.9375, 0.3]])
    s = enc(x.unsqueeze(0).expand(K, -1, -1))
    weights = torch.tensor([2.0 ** -(k + 1) for k in range(K)]).view(K, 1, 1)
    recon = (s * weights).sum(0)
    torch.testing.assert_close(recon[0, :4], x[0, :4])
    assert abs(recon[0, 4] - 0.3) < 2**-K
    assert s[:, 0, 2].tolist() == [1.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="must be in"):
        enc.encode(torch.tensor([0.99]))


def test_periodic_encoder_repeats_pattern():
    pattern = (torch.rand(3, 2, 4) < 0.5).float()
    enc = encoding.PeriodicEncoder(pattern)
    out = torch.stack([enc(torch.zeros(2, 4)) for _ in range(7)])
    torch.testing.assert_close(out, pattern[[0, 1, 2, 0, 1, 2, 0]])


def test_gaussian_tuning_population():
    g = encoding.GaussianTuning(2, 5, torch.tensor([0.0, -1.0]), torch.tensor([1.0, 1.0]))
    x = torch.tensor([[0.5, 0.0]])
    act = g(x)
    assert act.shape == (1, 2, 5)
    # the neuron whose centre is nearest fires first (activation 1 at its centre)
    assert act[0, 0].argmax().item() == 2 and act[0, 1].argmax().item() == 2
    times = g.encode(x, max_spike_time=10)
    assert times[0, 0, 2].item() == 0 and (times >= -1).all()
    with pytest.raises(ValueError, match="m must be"):
        encoding.GaussianTuning(1, 2, torch.zeros(1), torch.ones(1))
