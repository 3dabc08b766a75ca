"""Every neuron lands in exactly one piece of the thread split: results do not depend on the thread count and match
the torch reference at sizes around the split boundaries (pieces of whole SIMD vectors, odd tails)."""

import pytest
import torch

from sj.ops import multistep


def _run(backend: str, x: torch.Tensor, w: torch.Tensor, g: torch.Tensor) -> list[torch.Tensor]:
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    spike, (last,), _ = multistep("plif", xg, [torch.zeros(x.shape[1:], dtype=x.dtype)], [1.0, 0.0, wg],
                                  surrogate="Sigmoid", surrogate_params=[4.0], backend=backend)
    grads = torch.autograd.grad((spike * g).sum() + last.sum(), [xg, wg])
    return [spike, last, *grads]


@pytest.mark.parametrize("n", [8193, 16384, 16400, 40001])
def test_thread_split_matches_reference_and_other_thread_counts(n):
    gen = torch.Generator().manual_seed(n)
    x = torch.rand(4, n, dtype=torch.float64, generator=gen) * 1.5
    w = torch.rand(n, dtype=torch.float64, generator=gen) - 0.5  # per-neuron parameter: the vector kernels
    g = torch.rand(4, n, dtype=torch.float64, generator=gen)
    expected = _run("torch", x, w, g)
    before = torch.get_num_threads()
    try:
        results = {}
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results[threads] = _run("cpu", x, w, g)
    finally:
        torch.set_num_threads(before)
    for threads, got in results.items():
        assert all(torch.equal(a, b) for a, b in zip(got, results[1])), f"{threads} threads differ from 1"
    for a, b in zip(results[2], expected):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
