"""SpikingJelly 2.0's temporal augmentation (``spikingjelly.datasets.transform``)."""

from __future__ import annotations

import numpy as np
import torch


def random_temporal_delete(x_seq: torch.Tensor | np.ndarray, T_remain: int, batch_first: bool
                           ) -> torch.Tensor | np.ndarray:
    """Keep ``T_remain`` of the ``T`` steps of ``x_seq`` (``[T, ...]``, or ``[N, T, ...]`` when ``batch_first``),
    chosen without replacement by ``numpy.random.choice`` (numpy's global generator, as SpikingJelly) and kept in
    time order. ``T_remain > T`` raises ``ValueError``."""
    T = x_seq.shape[1 if batch_first else 0]
    if not 0 <= T_remain <= T:
        raise ValueError(f"T_remain must lie in [0, {T}] (the number of steps), got {T_remain}")
    kept = np.random.choice(T, T_remain, replace=False)
    kept.sort()
    return x_seq[:, kept] if batch_first else x_seq[kept]


class RandomTemporalDelete(torch.nn.Module):
    """:func:`random_temporal_delete` as a module (e.g. a dataset ``transform``)."""

    def __init__(self, T_remain: int, batch_first: bool) -> None:
        super().__init__()
        self.T_remain = T_remain
        self.batch_first = batch_first

    def forward(self, x_seq: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        return random_temporal_delete(x_seq, self.T_remain, self.batch_first)
