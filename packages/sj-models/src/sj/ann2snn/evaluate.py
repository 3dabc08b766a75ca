"""Accuracy of a converted SNN as a function of the number of time steps, from one simulation."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sj.ann2snn.modules import ConvertedSNN


@torch.no_grad()
def accuracy_over_time(snn: ConvertedSNN, x: torch.Tensor, y: torch.Tensor, T_values: Sequence[int],
                       batch_size: int = 256) -> dict[int, float]:
    """Classification accuracy (in ``[0, 1]``) of ``snn`` after each ``T`` in ``T_values``.

    Each batch of static inputs ``x`` ``[M, *]`` is fed for ``max(T_values)`` steps (direct coding, from a reset
    state); the prediction after ``T`` steps is the argmax of the mean output over the first ``T`` steps. ``y`` holds
    ``M`` integer labels.
    """
    ts = sorted({int(t) for t in T_values})
    if not ts or ts[0] < 1:
        raise ValueError(f"accuracy_over_time: T_values must be positive integers, got {list(T_values)}")
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"accuracy_over_time: need as many labels as inputs (> 0), got {len(x)} and {len(y)}")
    steps = torch.tensor(ts, device=x.device) - 1
    correct = torch.zeros(len(ts), dtype=torch.long)
    for i in range(0, len(x), batch_size):
        out = snn.run_static(x[i:i + batch_size], ts[-1])  # [T, B, classes]
        mean = out.cumsum(0)[steps] / (steps + 1).to(out.dtype).view(-1, 1, 1)
        correct += (mean.argmax(-1) == y[i:i + batch_size].to(x.device)).sum(1).cpu()
    return {t: c / len(x) for t, c in zip(ts, correct.tolist())}
