"""Session-wide test setup.

Without a GPU, sj-triton's kernels run under Triton's interpreter. Triton reads ``TRITON_INTERPRET`` when a function
is decorated, so it must be set before any test (or plug-in status check) imports sj-triton: here, first of all.
"""

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def blas_bound():
    """``blas_bound(layer, input_bound)``: how far two evaluations of a Linear/Conv ``layer`` on the same input may
    differ when BLAS splits the work differently (T GEMMs of ``[N, K]`` in ``'s'`` mode against one of ``[T·N, K]`` in
    ``'m'`` mode, another batch size): each output is a bias plus K products, and every order of summing them (with
    or without fused multiply-adds) is within γ_{K+1}·Σ|terms| of the exact sum (γ_n = n·u/(1 − n·u), u = eps/2;
    Higham, Accuracy and Stability of Numerical Algorithms, §3.1). Two orders are then within 2·γ_{K+1}·Σ|terms|,
    bounded here by 2·(K+1)·eps·Σ|terms| (a factor 2 of margin), with Σ|terms| ≤ max over outputs of
    Σ|w|·input_bound + |b| (``input_bound`` ≥ every |input|; 1 for spikes)."""

    def bound(layer: torch.nn.Module, input_bound: float) -> float:
        w = layer.weight.detach().abs().flatten(1)
        b = layer.bias.detach().abs() if layer.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
        terms = float((w.sum(1) * input_bound + b).max())
        return 2 * (w.shape[1] + 1) * torch.finfo(w.dtype).eps * terms

    return bound
