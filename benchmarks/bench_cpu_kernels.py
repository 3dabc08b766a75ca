"""The ``cpu`` backend's parts, each as a ratio measured in this one run: kernels alone against the memory floor,
and the fixed per-call cost of the multi-step op against a trivial autograd function.

1. Kernels alone (``CpuBackend.forward`` saving H, and ``CpuBackend.backward`` without and with the gradients of the
   neuron's own parameters — LIF's ``tau``, PLIF's ``w``, 0-d — called directly: no autograd, no validation) for
   IF/LIF/PLIF × ATan/Sigmoid at ``[T, N]``, as time / floor, the floor being one
   ``torch.add(x, 1, out=y)`` pass over ``[T, N]`` into a warm buffer. Forward saving H moves 3 ``[T, N]`` streams
   (x, spikes, H) and backward 3 (H, grad of spikes, grad of x): 1.5× the floor each is the bandwidth bound.
2. Per-call cost at a tiny shape (``[4, 16]``, where the kernels take ~1 µs): ``sj.ops.multistep`` forward+backward
   (``torch.autograd.grad``), and forward under ``no_grad``, as multiples of one forward+backward of a
   ``torch.autograd.Function`` computing ``2 x`` — what any Python-level autograd op costs at least.
3. The output pool's loan (:mod:`sj.cpu.pool`: lend a ``[4, 2^18]`` float32 block and free it), as a multiple of
   ``torch.empty_like`` and free of the same tensor — what the pool adds per large output it serves warm.

Every figure is the minimum over repeats. Run: ``python benchmarks/bench_cpu_kernels.py [--shape T,LOG2N]
[--threads 2]`` (about 30 s on 2 cores).
"""

from __future__ import annotations

import argparse
import timeit

import torch

import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
from sj.backends.base import BackwardInputs
from sj.backends.registry import get_backend
from sj.cpu.pool import BufferPool
from sj.ops import MultiStepSpec, multistep

NEURONS = {"if_": [1.0, 0.0], "lif": [1.0, 0.0, 2.0], "plif": [1.0, 0.0, 0.0]}
SURROGATES = {"ATan": (2.0,), "Sigmoid": (4.0,)}


def best(fn, number: int, repeat: int = 7) -> float:
    """Minimum seconds per call of ``fn`` over ``repeat`` batches of ``number`` calls."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def kernels(T: int, N: int) -> None:
    be = get_backend("cpu")
    x = torch.rand(T, N) * 1.5
    g = torch.rand(T, N)
    y = torch.empty_like(x)
    floor = best(lambda: torch.add(x, 1, out=y), 5)
    print(f"## kernels alone, T={T}, N={N}: time / floor (floor {floor * 1e3:.3f} ms)")
    print("| neuron | surrogate | forward (saving H) | backward | backward with own params' grads |\n"
          "|---|---|---|---|---|")
    for neuron, values in NEURONS.items():
        params = [torch.tensor(v) for v in values]
        states = [torch.zeros(N)]
        own = [False, False] + [True] * (len(params) - 2)  # PLIF's w (0-d: the kernel also sums it over N)
        for surrogate, sparams in SURROGATES.items():
            spec = MultiStepSpec(neuron, surrogate, sparams, False, False, False)
            _, _, _, saved = be.forward(spec, x, states, params, True)
            fwd = best(lambda: be.forward(spec, x, states, params, True), 5)  # noqa: B023 - called here
            bwd = []
            for need in ([False] * len(params), own) if any(own) else ([False] * len(params),):
                inputs = BackwardInputs(saved, x, states, params, need, g, [torch.zeros(N)], None)
                bwd.append(f"{best(lambda: be.backward(spec, inputs), 5) / floor:.2f}")  # noqa: B023 - called here
            print(f"| {neuron} | {surrogate} | {fwd / floor:.2f} | {' | '.join(bwd + ['—'] * (2 - len(bwd)))} |")


class _Double(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


def per_call() -> None:
    x = torch.rand(4, 16, requires_grad=True)
    g = torch.rand(4, 16)
    v0 = torch.zeros(16)

    def call():
        return multistep("lif", x, [v0], [1.0, 0.0, 2.0], surrogate="ATan", surrogate_params=[2.0], backend="cpu")

    def fwd_bwd():
        torch.autograd.grad(call()[0], [x], g)

    def fwd_no_grad():
        with torch.no_grad():
            call()

    trivial = best(lambda: torch.autograd.grad(_Double.apply(x), [x], g), 2000)
    print("## per-call cost at [4, 16] (LIF, ATan), as multiples of a trivial autograd.Function forward+backward")
    print(f"multistep forward+backward: {best(fwd_bwd, 2000) / trivial:.2f}×")
    print(f"multistep forward under no_grad: {best(fwd_no_grad, 2000) / trivial:.2f}×")


def pool_loan() -> None:
    pool = BufferPool()
    x = torch.empty(4, 2**18)
    loan = best(lambda: pool.like(x), 20000)
    plain = best(lambda: torch.empty_like(x), 20000)
    stats = pool.stats()
    print(f"## pool loan of a [4, 2^18] float32 output (lend and free): {loan / plain:.2f}× torch.empty_like "
          f"({stats.reused_blocks} reuses, {stats.allocated_blocks} block allocated)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="16,18", help="T,LOG2N of the kernel measurement (default 16,18)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    T, log2n = (int(v) for v in args.shape.split(","))
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, float32")
    kernels(T, 2**log2n)
    per_call()
    pool_loan()


if __name__ == "__main__":
    main()
