"""Conv-SNN training step on CPU (T=4, batch 64, 1×28×28, two conv blocks): ``cpu`` vs ``torch`` backend.

Layers are plain torch conv/BN over ``[T*B, ...]`` folded tensors with :func:`sj.ops.multistep` LIF neurons
(ATan) in between. Prints the median step time of each backend and their ratio (target: cpu ≤ 0.5× torch).
Run: ``python benchmarks/bench_cpu_convsnn.py [--steps 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from sj.ops import multistep

T, B = 4, 64


class LIF(nn.Module):
    def __init__(self, backend: str) -> None:
        super().__init__()
        self.backend = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [T*B, ...]
        seq = x.reshape(T, -1, *x.shape[1:])
        s = multistep("lif", seq, [torch.zeros(seq.shape[1:])], [1.0, 0.0, 2.0], surrogate="ATan",
                      surrogate_params=[2.0], backend=self.backend)[0]
        return s.reshape(x.shape)


def net(backend: str) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), LIF(backend),
                         nn.MaxPool2d(2),
                         nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), LIF(backend),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def step_time(backend: str, steps: int) -> float:
    torch.manual_seed(0)
    model = net(backend)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.rand(B, 1, 28, 28)
    y = torch.randint(0, 10, (B,))
    xs = x.unsqueeze(0).expand(T, -1, -1, -1, -1).reshape(T * B, 1, 28, 28)
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        out = model(xs).reshape(T, B, 10).mean(0)
        loss = nn.functional.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    res = {b: step_time(b, args.steps) for b in ("cpu", "torch")}
    print(f"# threads {torch.get_num_threads()}; median training step: cpu {res['cpu'] * 1e3:.1f} ms, "
          f"torch {res['torch'] * 1e3:.1f} ms, ratio cpu/torch {res['cpu'] / res['torch']:.2f}")


if __name__ == "__main__":
    main()
