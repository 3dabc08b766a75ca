"""Batching variable-length frame sequences (fixed-``duration`` frames have a per-sample T)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def pad_sequence_collate(batch: Sequence[tuple[Any, Any]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Collate ``(frames [T_i, ...], label)`` pairs into ``(x [N, T_max, ...] zero-padded, labels [N],
    lengths [N] int64)`` — SpikingJelly's ``pad_sequence_collate``."""
    xs = [torch.as_tensor(x) for x, _ in batch]
    lengths = torch.as_tensor([x.shape[0] for x in xs], dtype=torch.int64)
    labels = torch.as_tensor([y for _, y in batch])
    return torch.nn.utils.rnn.pad_sequence(xs, batch_first=True), labels, lengths


def padded_sequence_mask(sequence_len: torch.Tensor, T: int | None = None) -> torch.Tensor:
    """Boolean mask ``[T, N]``, True where step ``t < sequence_len[n]`` (``T`` defaults to the longest) —
    SpikingJelly's ``padded_sequence_mask``."""
    sequence_len = torch.as_tensor(sequence_len)
    if T is None:
        T = int(sequence_len.max().item()) if sequence_len.numel() else 0
    steps = torch.arange(T, device=sequence_len.device).unsqueeze(1)
    return steps < sequence_len.reshape(1, -1)
