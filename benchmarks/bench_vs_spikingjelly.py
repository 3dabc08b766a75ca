"""One training step of a convolutional SNN, SpikingJelly 2.0 against sj, the same code with only the imports changed.

    python benchmarks/bench_vs_spikingjelly.py [--channels 32] [--batch 64] [--T 4] [--rounds 15]

The net (built from either library's ``layer``/``neuron``/``surrogate``): conv 3×3 → BN → LIF → max-pool, twice, then
flatten → linear → LIF, in multi-step mode on ``[T, batch, 1, 28, 28]``; one step is forward, cross-entropy on the
mean firing rate, backward, SGD update, ``reset_net``. sj runs with no backend named (its default), with
``backend='torch'`` and with ``backend='cpu'``; SpikingJelly with its default. Rounds are interleaved (each round
times every variant once), so a drift of the machine affects all alike; the table gives medians and ratios to
SpikingJelly. Targets (issue "SpikingJelly code runs unchanged"): no backend named ≤ 0.6× SpikingJelly,
``backend='torch'`` ≤ 1.0×. SpikingJelly 2.0.0 must be importable (``pip install --no-deps spikingjelly==2.0.0``
plus loguru; torchvision/torchaudio are stubbed as in the parity tests).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sjparity"))


def build(lib, channels: int, backend: str | None) -> nn.Module:
    layer, neuron, surrogate = lib.layer, lib.neuron, lib.surrogate
    kw = {} if backend is None else {"backend": backend}

    def lif():
        return neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m", **kw)

    net = nn.Sequential(
        layer.Conv2d(1, channels, 3, padding=1, bias=False, step_mode="m"), layer.BatchNorm2d(channels, step_mode="m"),
        lif(), layer.MaxPool2d(2, 2, step_mode="m"),
        layer.Conv2d(channels, channels, 3, padding=1, bias=False, step_mode="m"),
        layer.BatchNorm2d(channels, step_mode="m"), lif(), layer.MaxPool2d(2, 2, step_mode="m"),
        layer.Flatten(step_mode="m"), layer.Linear(channels * 49, 10, step_mode="m"), lif())
    return net


def step_fn(lib, net: nn.Module, x: torch.Tensor, y: torch.Tensor):
    opt = torch.optim.SGD(net.parameters(), lr=0.1)

    def step() -> None:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x).mean(0), y)
        loss.backward()
        opt.step()
        lib.functional.reset_net(net)

    return step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    from oracle import _stub_missing

    _stub_missing()
    import importlib
    from types import SimpleNamespace

    def library(root: str) -> SimpleNamespace:
        return SimpleNamespace(**{m: importlib.import_module(f"{root}.{m}")
                                  for m in ("layer", "neuron", "surrogate", "functional")})

    sj2, sj = library("spikingjelly.activation_based"), library("sj")

    torch.manual_seed(0)
    x = torch.rand(args.T, args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    variants = {"SpikingJelly 2.0": step_fn(sj2, build(sj2, args.channels, None), x, y)}
    for backend in (None, "torch", "cpu"):
        name = "sj, no backend named" if backend is None else f"sj, backend={backend!r}"
        variants[name] = step_fn(sj, build(sj, args.channels, backend), x, y)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up: first-use compiles, allocator
        fn()
        fn()
    for _ in range(args.rounds):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["SpikingJelly 2.0"])
    print(f"conv SNN training step, T={args.T}, batch {args.batch}, {args.channels} channels, "
          f"{torch.get_num_threads()} threads; medians of {args.rounds} interleaved rounds")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:24s} {med * 1e3:8.1f} ms   {med / base:5.2f}x SpikingJelly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
