"""compress_spikes: binary saved tensors are stored as bits/bools, exactly; everything else is untouched."""

import math

import pytest
import torch
from _training_nets import conv_snn, loss_fn
from hypothesis import given, settings
from hypothesis import strategies as st

from sj.training import compress_spikes, is_binary, spike_hooks
from sj.training.spike_save import pack


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4), storage=st.sampled_from(["bits", "bool"]),
       dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64]), seed=st.integers(0, 99))
def test_pack_round_trip(shape, storage, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    t = (torch.rand(shape, generator=g) < 0.3).to(dtype)
    packed = pack(t, storage)
    n = t.numel()
    assert packed.data.numel() == (math.ceil(n / 8) if storage == "bits" else n)
    out = packed.unpack()
    assert out.dtype == dtype and out.shape == t.shape and torch.equal(out, t)


@pytest.mark.parametrize("value", [0.5, -0.0, math.nan, 2.0, -1.0])
def test_only_exact_zero_and_one_are_binary(value):
    t = torch.tensor([0.0, 1.0, 1.0, value])
    assert is_binary(t[:3]) and not is_binary(t)
    assert not is_binary(torch.tensor([0, 1]))  # integers are not floating point
    assert not is_binary(torch.ones(4, 4).t()[:, :2])  # non-contiguous: left as it is


def _saved_bytes(fn, **kw) -> int:
    """Bytes autograd keeps for backward (after the compression hooks, if any)."""
    total = 0

    def count(obj):
        nonlocal total
        t = obj.data if hasattr(obj, "unpack") else obj
        total += t.numel() * t.element_size()
        return obj

    pack_inner, unpack_inner = spike_hooks(**kw)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: count(pack_inner(t)), unpack_inner):
        fn()
    return total


@pytest.mark.parametrize("storage", ["bits", "bool"])
def test_gradients_are_bit_identical_and_spikes_are_stored_small(storage):
    torch.manual_seed(0)
    plain, packed = conv_snn(channels=4, size=8), conv_snn(channels=4, size=8)
    packed.load_state_dict(plain.state_dict())
    x = torch.rand(6, 3, 1, 8, 8) * 2
    target = torch.tensor([0, 1, 2])
    loss_fn(plain(x), target).backward()
    with compress_spikes(storage):
        out = packed(x)
    loss_fn(out, target).backward()
    for a, b in zip(plain.parameters(), packed.parameters(), strict=True):
        assert a.grad.abs().sum() > 0 and torch.equal(a.grad, b.grad)

    # what the 2nd convolution saves of its input: the [T·N, C, 4, 4] spike map (4 bytes/element uncompressed)
    spikes = (plain[2](plain[1](plain[0](x))) > 0).float()
    torch.manual_seed(1)
    conv = plain[3]
    n = spikes.numel()
    raw = _saved_bytes(lambda: conv(spikes), min_numel=10**9)
    small = _saved_bytes(lambda: conv(spikes), storage=storage, min_numel=16)
    assert raw - small == 4 * n - (math.ceil(n / 8) if storage == "bits" else n)


def test_small_tensors_and_non_binary_tensors_are_not_packed():
    x = torch.rand(64, requires_grad=True)
    kept = []

    inner = spike_hooks(min_numel=100)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(inner[0](t)) or kept[-1], inner[1]):
        (x.sin() * (x > 2).float()).sum().backward()  # a 64-element binary tensor: under min_numel
    assert all(isinstance(k, torch.Tensor) for k in kept) and len(kept) >= 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="storage must be one of"):
        with compress_spikes("bytes"):
            pass
    with pytest.raises(ValueError, match="min_numel"):
        spike_hooks(min_numel=-1)
