"""Bytes autograd keeps for backward: the fused multi-step op vs. a loop of single steps (same neuron).

    python benchmarks/bench_core_memory.py [--T 16] [--N 65536]

Reports, per neuron, the bytes saved for backward as a multiple of one ``[T, N]`` float32 tensor. The op saves the
H sequence (plus the initial state and the parameters; aux-state sequences for multi-state neurons); the single-step
loop saves every intermediate of every step.
"""

from __future__ import annotations

import argparse

import torch

from sj import neuron
from sj.functional import reset_net


def saved_bytes(fn) -> int:
    """Total bytes of the tensors autograd saves while ``fn`` runs (storage counted once)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=16)
    p.add_argument("--N", type=int, default=65536)
    a = p.parse_args()
    unit = a.T * a.N * 4
    print(f"T={a.T} N={a.N}; unit = one [T, N] float32 tensor = {unit / 2**20:.1f} MiB")
    print(f"{'neuron':<12}{'fused op':>12}{'single-step loop':>20}{'ratio':>8}")
    for name, make in {"IF": neuron.IFNode, "LIF": neuron.LIFNode, "PLIF": neuron.ParametricLIFNode,
                       "EIF": neuron.EIFNode, "Izhikevich": neuron.IzhikevichNode}.items():
        x = torch.rand(a.T, a.N, requires_grad=True)
        multi, single = make(step_mode="m"), make(step_mode="s")
        fused = saved_bytes(lambda m=multi, x=x: m(x))
        looped = saved_bytes(lambda s=single, x=x: torch.stack([s(xt) for xt in x]))
        reset_net(multi)
        reset_net(single)
        print(f"{name:<12}{fused / unit:>12.2f}{looped / unit:>20.2f}{looped / fused:>8.1f}x")


if __name__ == "__main__":
    main()
