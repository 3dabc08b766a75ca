"""Calls over ``SJ_TILE_WORK`` elements take ``TILE_STEPS`` time steps per pass over a chunk, the states (in
backward: the state gradients and parameter-gradient sums) in registers between them (sj.cpu.codegen); smaller
calls, which the conformance suite runs, take one. These calls cross the threshold, with T giving tiles and single
steps after them, and an N that is no multiple of the SIMD width, and must match the torch reference: spikes, last
states, stored v_seq and saved H (each state's, for a two-state neuron); the gradients of x, of the initial states
and of every parameter."""

import itertools
import re

import pytest
import torch

import sj.neuron.builtin  # registers the built-in neurons
import sj.ops  # noqa: F401 - registers the multi-step op
from sj.cpu import codegen

TILE_WORK = 1 << int(re.search(r"#define SJ_TILE_WORK \(1 << (\d+)\)", codegen.HEADER).group(1))
N = TILE_WORK // 3 + 5  # T * N crosses the threshold for T >= 3

# neuron, parameter values after v_threshold and v_reset (a list: one per neuron), initial states
CASES = {
    "if_": ([], 1),
    "lif": ([torch.linspace(1.5, 4.0, N, dtype=torch.float64)], 1),  # per-neuron tau: the kernels' vector variant
    "plif": ([torch.tensor(-0.3, dtype=torch.float64)], 1),
    "cuba_lif": ([torch.tensor(0.5, dtype=torch.float64), torch.tensor(0.25, dtype=torch.float64)], 2),
}


def _forward(backend, neuron, x, states, params, soft, store_v, save):
    return torch.ops.sj.multistep_fwd(backend, neuron, "ATan", [2.0], soft, False, store_v, save, x, states, params)


def test_the_calls_cross_the_threshold():
    assert codegen.TILE_STEPS >= 2
    assert 3 * N > TILE_WORK > 3 * N - 3 * 16  # and are the smallest such calls, give or take a SIMD vector
    assert N % 16


@pytest.mark.parametrize("neuron", sorted(CASES))
@pytest.mark.parametrize("T", [3, 4])  # forward: a tile and a single step; tiles only
@pytest.mark.parametrize(("soft", "store_v", "save"), [(False, False, False), (True, True, False),
                                                       (False, False, True), (True, True, True)])
def test_tiled_forward_matches_the_reference(neuron, T, soft, store_v, save):
    gen = torch.Generator().manual_seed(T)
    own, n_states = CASES[neuron]
    x = torch.rand(T, N, dtype=torch.float64, generator=gen) * 3
    states = [torch.rand(N, dtype=torch.float64, generator=gen) * 0.5 for _ in range(n_states)]
    params = [torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64), *own]
    got = _forward("cpu", neuron, x, states, params, soft, store_v, save)
    want = _forward("torch", neuron, x, states, params, soft, store_v, save)
    assert T * N > TILE_WORK
    fired = want[0].sum(dim=1)
    assert bool((fired > 0).all()) and bool((fired < N).all()), "every step, the tail's included, must fire some"
    assert torch.equal(got[0], want[0])
    close = dict(rtol=1e-12, atol=1e-12)  # the kernels multiply by a hoisted 1 / tau where the reference divides
    for g, w in zip(got[1], want[1], strict=True):
        torch.testing.assert_close(g, w, **close)
    if store_v:
        torch.testing.assert_close(got[2], want[2], **close)
    else:
        assert got[2].numel() == want[2].numel() == 0  # the op's "no v_seq"
    assert len(got[3]) == len(want[3]) == (n_states if save else 0)
    for g, w in zip(got[3], want[3], strict=True):
        torch.testing.assert_close(g, w, **close)


def _backward(backend, neuron, soft, detach, saved, x, states, params, need, grad_spike, grad_last, grad_v_seq):
    return torch.ops.sj.multistep_bwd(backend, neuron, "ATan", [2.0], soft, detach, grad_v_seq is not None, saved, x,
                                      states, params, need, grad_spike, grad_last, grad_v_seq)


# backward: the own parameters as 0-d tensors (tiles are in the float32 kernels with scalar parameters)
SCALAR_OWN = {"if_": [], "lif": [2.5], "plif": [-0.3], "cuba_lif": [0.5, 0.25]}


@pytest.mark.parametrize("neuron", sorted(CASES))
@pytest.mark.parametrize("T", [4, 5])  # backward: step T-1 alone, then tiles, then (T=5) step 1; step 0 alone
@pytest.mark.parametrize(("soft", "detach"), [(False, False), (True, True)])
@pytest.mark.parametrize("last", ["given", "none"])
@pytest.mark.parametrize(("v_seq", "need"), [(False, "own"), (True, "own"), (False, "all")])  # the last two: single
def test_tiled_backward_matches_the_reference(neuron, T, soft, detach, last, v_seq, need):
    """float32 kernels against the float64 reference on the same (float32) inputs and saved H."""
    gen = torch.Generator().manual_seed(10 + T)
    n_states = CASES[neuron][1]

    def rand(*shape, scale=1.0, shift=0.0):
        return (torch.rand(*shape, generator=gen) * scale + shift).float()

    x = rand(T, N, scale=3)
    states = [rand(N, scale=0.5) for _ in range(n_states)]
    params = [torch.tensor(v) for v in (1.0, 0.0, *SCALAR_OWN[neuron])]
    saved = torch.ops.sj.multistep_fwd("cpu", neuron, "ATan", [2.0], soft, detach, False, True, x, states, params)[3]
    grad_spike = rand(T, N, shift=-0.5)
    grad_last = [rand(N, shift=-0.5) if last == "given" else None for _ in range(n_states)]
    grad_v_seq = rand(T, N, shift=-0.5) if v_seq else None
    needed = [need == "all"] * 2 + [True] * len(SCALAR_OWN[neuron])
    got = _backward("cpu", neuron, soft, detach, saved, x, states, params, needed, grad_spike, grad_last, grad_v_seq)

    def wide(ts):
        return [t.double() if t is not None else None for t in ts]

    want = _backward("torch", neuron, soft, detach, wide(saved), x.double(), wide(states), wide(params), needed,
                     grad_spike.double(), wide(grad_last), grad_v_seq.double() if v_seq else None)
    close = dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(got[0].double(), want[0], **close)
    for g, w in zip(got[1], want[1], strict=True):
        torch.testing.assert_close(g.double(), w, **close)
    assert len(got[2]) == len(want[2]) == sum(needed)
    for g, w in zip(got[2], want[2], strict=True):  # 0-d: summed over T and N
        torch.testing.assert_close(g.double(), w, rtol=1e-4, atol=1e-4)


def test_tiles_give_the_same_bits_as_single_steps():
    """Neurons are independent: the call over all N (tiled) equals, bit for bit, the calls over slices of N, each
    below the threshold (single steps): a tile runs the same operations in the same order. (The 0-d tau's gradient,
    summed over other chunks of neurons, only to rounding.)"""
    T, pieces = 4, 4
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(T, N, generator=gen) * 3
    v0 = torch.rand(N, generator=gen) * 0.5
    params = [torch.tensor(1.0), torch.tensor(0.0), torch.tensor(2.5)]
    grad_spike = torch.rand(T, N, generator=gen) - 0.5

    def run(cols):
        spike, last, _, saved = _forward("cpu", "lif", x[:, cols], [v0[cols]], params, False, False, True)
        grads = _backward("cpu", "lif", False, False, saved, x[:, cols], [v0[cols]], params, [False, False, True],
                          grad_spike[:, cols], [None], None)
        return [spike, last[0], saved[0], grads[0], grads[1][0]], grads[2][0]

    whole, grad_tau = run(slice(None))
    bounds = [N * k // pieces for k in range(pieces + 1)]
    assert T * (bounds[1] - bounds[0]) <= TILE_WORK
    parts = [run(slice(lo, hi)) for lo, hi in itertools.pairwise(bounds)]
    for k, got in enumerate(whole):
        assert torch.equal(got, torch.cat([p[0][k] for p in parts], dim=-1)), k
    torch.testing.assert_close(grad_tau, sum(p[1] for p in parts), rtol=1e-5, atol=1e-5)
