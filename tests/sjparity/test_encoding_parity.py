"""sj.encoding against SpikingJelly 2.0.0's activation_based.encoding: same seeds → same spikes; same parameters →
same population codes and gradients. Where SJ's code is wrong (latency codes that overflow e^(T−1)), sj is checked
against closed forms in tests/core_surface/test_surface_encoding_hardening.py instead."""

from __future__ import annotations

import pytest
import torch
from layers_parity_common import assert_close_max, run_parity, sj2

from sj import encoding
from sj.functional import detach_net, reset_net

E = sj2("encoding")
SJF = sj2("functional")


def test_poisson_same_spikes_from_the_same_seed():
    x = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(0))
    x[0, 0] = 0.0
    x[0, 1] = 1.0
    for step_mode in ("s", "m"):
        run_parity(encoding.PoissonEncoder(step_mode), E.PoissonEncoder(step_mode), [x], seed=3, grad=False)
    assert issubclass(encoding.PoissonEncoder, encoding.StatelessEncoder)


@pytest.mark.parametrize("T,enc_function", [(1, "linear"), (6, "linear"), (6, "log"), (20, "log")])
def test_latency_code_and_cycle(T, enc_function):
    x = torch.rand(3, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x[0, :3] = torch.tensor([0.0, 1.0, 0.5])
    ours, theirs = encoding.LatencyEncoder(T, enc_function), E.LatencyEncoder(T, enc_function)
    a = torch.stack([ours(x) for _ in range(T + 2)])
    b = torch.stack([theirs(x) for _ in range(T + 2)])
    assert torch.equal(a, b)
    reset_net(ours), SJF.reset_net(theirs)
    ours.step_mode = theirs.step_mode = "m"
    seq = x.expand(T, *x.shape)
    assert torch.equal(ours(seq), theirs(seq))


def test_weighted_phase_and_periodic():
    x = torch.rand(2, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * (1 - 2**-6)
    ours, theirs = encoding.WeightedPhaseEncoder(6), E.WeightedPhaseEncoder(6)
    assert_close_max(torch.stack([ours(x) for _ in range(8)]), torch.stack([theirs(x) for _ in range(8)]), 0.0)
    pattern = (torch.rand(3, 2, 4, generator=torch.Generator().manual_seed(3)) < 0.5).float()
    ours, theirs = encoding.PeriodicEncoder(pattern), E.PeriodicEncoder(pattern)
    assert ours.state_dict().keys() == theirs.state_dict().keys()  # nothing: SJ checkpoints load strictly
    assert torch.equal(torch.stack([ours(pattern) for _ in range(7)]), torch.stack([theirs(pattern) for _ in range(7)]))


@pytest.mark.parametrize("name", ["PopEncoder", "PopSpikeEncoderDeterministic", "PopSpikeEncoderRandom"])
def test_population_encoders(name):
    args = (3, 4, 5, (-1.0, 1.0), 0.6)
    ours, theirs = getattr(encoding, name)(*args), getattr(E, name)(*args)
    with torch.no_grad():
        theirs.mean.add_(0.1 * torch.randn(theirs.mean.shape, generator=torch.Generator().manual_seed(4)))
    obs = torch.randn(2, 3, generator=torch.Generator().manual_seed(5))
    first = run_parity(ours, theirs, [obs], seed=6)
    if name != "PopEncoder":
        assert set(first[0].unique().tolist()) <= {0.0, 1.0} and first[0].any()
    detach_net(ours), SJF.detach_net(theirs)
    run_parity(ours, theirs, [obs], seed=7, load=False)  # a second call: the IF neurons keep their membrane
