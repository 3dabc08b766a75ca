"""Deterministic mode: the same seed gives identical spikes and gradients; the global settings are restored."""

import os
import random

import numpy as np
import pytest
import torch
from _training_nets import conv_snn, loss_fn

from sj import encoding
from sj.training import deterministic_mode, seed_everything


def _run(seed: int):
    with deterministic_mode(seed):
        net = conv_snn(dropout=True)
        x = encoding.PoissonEncoder(step_mode="m")(torch.rand(6, 3, 1, 8, 8))
        x = x * torch.rand_like(x) * 3  # a random input current on the Poisson spikes
        spikes = net[:2](x)
        out = net[2:](spikes)
        loss_fn(out, torch.tensor([0, 1, 2])).backward()
        return spikes.detach(), [p.grad for p in net.parameters()]


def test_same_seed_identical_spikes_and_gradients():
    s1, g1 = _run(7)
    s2, g2 = _run(7)
    s3, _ = _run(8)
    assert s1.sum() > 0 and torch.equal(s1, s2)
    for a, b in zip(g1, g2, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(s1, s3)


def test_settings_are_set_inside_and_restored_after():
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
              os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    with deterministic_mode(warn_only=True):
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == (before[4] or ":4096:8")
    with pytest.raises(KeyError), deterministic_mode():
        raise KeyError("restored on errors too")
    assert (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
            os.environ.get("CUBLAS_WORKSPACE_CONFIG")) == before


def test_seed_everything_seeds_python_numpy_and_torch():
    seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
