"""Spike-train utilities."""

from __future__ import annotations

import torch


def first_spike_index(spikes: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Mark the first spike of every neuron along the time dimension.

    Args:
        spikes: 0/1 spike tensor. SpikingJelly's layout is time-last ``[*, T]`` (the default ``dim=-1``); for sj's
            time-first sequences ``[T, N, *]`` pass ``dim=0``.
        dim: the time dimension.

    Returns:
        A bool tensor of the same shape, ``True`` exactly where a neuron fires for the first time (all ``False`` for a
        neuron that never fires). Not differentiable.
    """
    if not isinstance(spikes, torch.Tensor):
        raise TypeError(f"first_spike_index: spikes must be a tensor, got {type(spikes).__name__}")
    with torch.no_grad():
        fired = spikes != 0
        before = fired.cumsum(dim) - fired.to(torch.long)  # spikes strictly before each step
        return fired & (before == 0)
