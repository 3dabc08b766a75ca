"""Every neuron lands in exactly one piece of the thread split: results do not depend on the thread count and match
the torch reference at sizes around the split boundaries (pieces of whole SIMD vectors, odd tails). The split itself
(``sj_cpu_plan``): at least SJ_MIN_PIECE neurons per thread, pieces covering every neuron once, and the installed
library splitting as the generator does."""

import ctypes
import re

import pytest
import torch

from sj.backends.registry import get_backend
from sj.cpu import codegen, compiler
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


def _header_constant(name: str) -> int:
    return int(re.search(rf"#define {name} (\d+)", codegen.HEADER).group(1))


@pytest.fixture(scope="module")
def plan_library(tmp_path_factory):
    """The generator's thread split (``sj_cpu_plan``), compiled once from the current source."""
    if compiler.find_compiler() is None:
        pytest.skip("no C compiler")
    work = tmp_path_factory.mktemp("plan")
    (work / "abi.c").write_text(codegen.header() + codegen.abi_function())
    compiler.compile_objects([work / "abi.c"], work / "abi.so", werror=True)
    return ctypes.CDLL(str(work / "abi.so"))


def _plan(lib, T: int, N: int, chunk: int, threads: int) -> tuple[int, int, int]:
    out = (ctypes.c_int64 * 3)()
    lib.sj_cpu_plan(ctypes.c_int64(T), ctypes.c_int64(N), ctypes.c_int64(chunk), ctypes.c_int(threads), out)
    return tuple(out)


# (T, N, threads) -> (threads used, neurons per piece, pieces), with chunks of at most 16384 neurons
PLANS = {
    (64, 1024, 2): (1, 1024, 1),        # 512 neurons per thread would interleave the threads' rows within pages
    (256, 8191, 2): (1, 8192, 1),        # one piece, rounded up to whole vectors
    (64, 8192, 2): (2, 4096, 2),        # the smallest N two threads share
    (4, 8193, 3): (2, 4112, 2),         # three asked, two fit; pieces of whole 16-element vectors
    (4, 1 << 20, 8): (8, 16384, 64),
    (1, 16384, 2): (1, 16384, 1),       # under SJ_SERIAL_WORK elements: one thread
    (4, 0, 2): (1, 16384, 0),
}


@pytest.mark.parametrize(("shape", "expected"), PLANS.items(), ids=str)
def test_the_thread_split_keeps_min_piece_neurons_per_thread(plan_library, shape, expected):
    assert _plan(plan_library, *shape[:2], 16384, shape[2]) == expected


def test_every_split_covers_the_neurons_once_in_whole_vectors(plan_library):
    min_piece, serial = _header_constant("SJ_MIN_PIECE"), _header_constant("SJ_SERIAL_WORK")
    gen = torch.Generator().manual_seed(0)
    for _ in range(2000):
        T = int(torch.randint(1, 300, (), generator=gen))
        N = int(torch.randint(1, 1 << int(torch.randint(1, 21, (), generator=gen)), (), generator=gen)) + 1
        threads, chunk = int(torch.randint(1, 17, (), generator=gen)), 16384
        nt, piece, pieces = _plan(plan_library, T, N, chunk, threads)
        assert 1 <= nt <= threads and piece <= chunk and pieces * piece >= N > (pieces - 1) * piece, (T, N, threads)
        assert piece % 16 == 0, (T, N, threads)
        if nt > 1:
            assert N >= nt * min_piece and T * N >= serial, (T, N, threads, nt)


def test_the_installed_library_splits_like_the_generator(plan_library):
    """The prebuilt library is built from this generator: a stale one (an older split) fails here."""
    lib, reason = get_backend("cpu").loader.prebuilt()
    if lib is None:
        pytest.skip(reason)
    for (T, N, threads) in PLANS:
        assert _plan(lib, T, N, 16384, threads) == _plan(plan_library, T, N, 16384, threads), (T, N, threads)
