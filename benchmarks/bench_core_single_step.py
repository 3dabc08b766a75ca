"""Per-step cost of single-step neurons (``step_mode='s'``, SpikingJelly's default), as ratios measured in one run.

Per row (LIF, tau=2, surrogate Sigmoid or ATan, a ``[N]`` input), the time of one step (reset included every 4 steps,
as a 4-step sequence) when autograd records it (input requires grad) and under ``no_grad``, as a multiple of:

- ``plain``: the same LIF step written as five plain torch ops (charge, compare, reset) — what any Python-level
  single step costs at least;
- ``via apply``: the same sj module with its spike called through ``torch.autograd.Function.apply`` (the path before
  session 14, which binds the arguments with ``inspect.signature`` on every call);
- SpikingJelly's ``LIFNode`` (``step_mode='s'``) where it is importable.

Run: ``python benchmarks/bench_core_single_step.py [--n 16] [--threads 1]`` (about 20 s).
"""

from __future__ import annotations

import argparse
import timeit
from contextlib import nullcontext
from unittest import mock

import torch

from sj import neuron, surrogate
from sj.surrogate import _SpikeFn


def best(fn, number: int, repeat: int) -> float:
    """Minimum seconds per call of ``fn`` over ``repeat`` batches of ``number`` calls."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def sequence(module, x: torch.Tensor, reset):
    def run():
        reset()
        for _ in range(4):
            module(x)
    return run


def plain_lif(x: torch.Tensor):
    def run():
        v = torch.zeros_like(x)
        for _ in range(4):
            h = v + (x - v) / 2.0
            s = (h >= 1.0).to(h.dtype)
            v = h * (1.0 - s)
    return run


def spikingjelly_lif(sg_name: str):
    try:
        from spikingjelly.activation_based import neuron as sjn
        from spikingjelly.activation_based import surrogate as sjs
    except ImportError:
        return None
    return sjn.LIFNode(tau=2.0, surrogate_function=getattr(sjs, sg_name)(), step_mode="s")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=16, help="neurons per step (default 16: per-call cost)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--number", type=int, default=500, help="calls per timing batch (default 500)")
    p.add_argument("--repeat", type=int, default=7, help="batches; the minimum is kept (default 7)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, N={args.n}; time per 4-step sequence "
          "as a multiple of each reference")
    print("| surrogate | recorded | sj µs | × plain | × via apply | × SpikingJelly |\n|---|---|---|---|---|---|")
    via_apply = mock.patch("sj.surrogate._spike", lambda z, name, params: _SpikeFn.apply(z, name, params))
    for sg_name in ("Sigmoid", "ATan"):
        node = neuron.LIFNode(tau=2.0, surrogate_function=getattr(surrogate, sg_name)(), step_mode="s")
        sj_node = spikingjelly_lif(sg_name)
        for recorded in (True, False):
            x = torch.rand(args.n) * 2
            if recorded:
                x.requires_grad_()
            timed = {"number": args.number, "repeat": args.repeat}
            with nullcontext() if recorded else torch.no_grad():
                ours = best(sequence(node, x, node.reset), **timed)
                base = best(plain_lif(x), **timed)
                with via_apply:
                    old = best(sequence(node, x, node.reset), **timed)
                theirs = best(sequence(sj_node, x, sj_node.reset), **timed) if sj_node is not None else None
            sj_col = f"{ours / theirs:.2f}" if theirs else "not installed"
            print(f"| {sg_name} | {'yes' if recorded else 'no_grad'} | {ours * 1e6:.1f} | {ours / base:.2f} | "
                  f"{ours / old:.2f} | {sj_col} |")


if __name__ == "__main__":
    main()
