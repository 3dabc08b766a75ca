"""Peak activation memory vs T for a conv SNN: plain BPTT, spike-compressed save, time checkpointing.

    python benchmarks/bench_training_memory.py [--T 4 8 16 32 64] [--N 8] [--size 16] [--channels 8] [--segment 0]

Measured with :class:`sj.training.PeakMemory` (tensor storages created during forward + backward, parameters and the
input excluded) on whatever device runs it (CPU here). ``--segment 0`` uses ⌈√T⌉ steps per segment. Each row also
reports the wall time and the largest gradient difference from the plain run (compression is exact: 0).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "training"))
from _training_nets import conv_snn, loss_fn

from sj.functional import reset_net
from sj.training import PeakMemory, TimeCheckpoint, compress_spikes

MODES = ("plain", "compress_spikes", "time_checkpoint")


def measure(net: torch.nn.Module, mode: str, x: torch.Tensor, target: torch.Tensor, segment: int):
    model = TimeCheckpoint(net, segment) if mode == "time_checkpoint" else net
    ctx = compress_spikes() if mode == "compress_spikes" else nullcontext()
    net.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    with PeakMemory() as mem:
        with ctx:
            out = model(x)
        loss_fn(out, target).backward()
    elapsed = time.perf_counter() - t0
    reset_net(net)
    return mem.peak, elapsed, [p.grad.clone() for p in net.parameters()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    p.add_argument("--N", type=int, default=8)
    p.add_argument("--size", type=int, default=16)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--segment", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(0)
    net = conv_snn(channels=a.channels, size=a.size, classes=10)
    print(f"conv SNN: Conv({a.channels})-LIF-MaxPool-Conv({2 * a.channels})-LIF-MaxPool-Linear(10), "
          f"input [T, {a.N}, 1, {a.size}, {a.size}], float32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'T':>4} {'segment':>7} {'mode':>16} {'peak MiB':>9} {'vs plain':>8} {'time s':>7} {'max |Δgrad|':>11}")
    for T in a.T:
        segment = a.segment or math.ceil(math.sqrt(T))
        g = torch.Generator().manual_seed(T)
        x = torch.rand(T, a.N, 1, a.size, a.size, generator=g) * 2
        target = torch.randint(0, 10, (a.N,), generator=g)
        base = None
        for mode in MODES:
            peak, elapsed, grads = measure(net, mode, x, target, segment)
            if base is None:
                base = (peak, grads)
            diff = max((g1 - g0).abs().max().item() for g1, g0 in zip(grads, base[1], strict=True))
            print(f"{T:>4} {segment:>7} {mode:>16} {peak / 2**20:>9.2f} {peak / base[0]:>8.3f} {elapsed:>7.2f} "
                  f"{diff:>11.2e}")


if __name__ == "__main__":
    main()
