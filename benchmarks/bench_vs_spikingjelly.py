"""One training step of a convolutional SNN, SpikingJelly 2.0 against sj, the same code with only the imports changed.

    python benchmarks/bench_vs_spikingjelly.py [--channels 32] [--batch 64] [--T 4] [--rounds 15]

The net (built from either library's ``layer``/``neuron``/``surrogate``): conv 3×3 → BN → LIF → max-pool, twice, then
flatten → linear → LIF, in multi-step mode on ``[T, batch, 1, 28, 28]``; one step is forward, cross-entropy on the
mean firing rate, backward, SGD update, ``reset_net``. sj runs with no backend named (its default), with
``backend='torch'`` and with ``backend='cpu'``; SpikingJelly with its default. Rounds are interleaved (each round
times every variant once), so a drift of the machine affects all alike; the table gives medians and ratios to
SpikingJelly. Targets (issue "SpikingJelly code runs unchanged"): no backend named ≤ 0.6× SpikingJelly,
``backend='torch'`` ≤ 1.0×. A second table times the first LIF layer alone (``[T, batch, channels, 28, 28]``,
forward and backward separately, interleaved the same way), which shows where the neuron itself stands.
SpikingJelly 2.0.0 must be importable (``pip install --no-deps spikingjelly==2.0.0`` plus loguru;
torchvision/torchaudio are stubbed as in the parity tests).
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


def make_lif(lib, backend: str | None) -> nn.Module:
    """The net's neuron: multi-step LIF, tau 2, ATan, detach_reset; ``backend`` None: the library's default."""
    kw = {} if backend is None else {"backend": backend}
    return lib.neuron.LIFNode(tau=2.0, surrogate_function=lib.surrogate.ATan(), detach_reset=True, step_mode="m",
                              **kw)


def build(lib, channels: int, backend: str | None) -> nn.Module:
    layer = lib.layer

    def lif():
        return make_lif(lib, backend)

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
    layer_table(sj2, sj, args)
    return 0


def layer_table(sj2, sj, args) -> None:
    """The first LIF layer alone: forward and backward of ``[T, batch, channels, 28, 28]``, interleaved rounds."""
    x = torch.randn(args.T, args.batch, args.channels, 28, 28) * 1.5
    g = torch.rand_like(x)
    nodes = {"SpikingJelly 2.0": make_lif(sj2, None), "sj, backend='torch'": make_lif(sj, "torch"),
             "sj, backend='cpu'": make_lif(sj, "cpu")}
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in nodes}
    for r in range(args.rounds + 2):  # two warm-up rounds
        for name, node in nodes.items():
            node.reset()
            xg = x.clone().requires_grad_()
            t0 = time.perf_counter()
            y = node(xg)
            t1 = time.perf_counter()
            y.backward(g)
            t2 = time.perf_counter()
            if r >= 2:
                times[name][0].append(t1 - t0)
                times[name][1].append(t2 - t1)
    fwd0, bwd0 = (statistics.median(t) for t in times["SpikingJelly 2.0"])
    print(f"first LIF layer alone, [{args.T}, {args.batch}, {args.channels}, 28, 28]; medians of {args.rounds} "
          f"interleaved rounds")
    for name, (fwd, bwd) in times.items():
        f, b = statistics.median(fwd), statistics.median(bwd)
        print(f"  {name:24s} forward {f * 1e3:7.1f} ms ({f / fwd0:4.2f}x)   backward {b * 1e3:7.1f} ms "
              f"({b / bwd0:4.2f}x SpikingJelly)")


if __name__ == "__main__":
    sys.exit(main())
