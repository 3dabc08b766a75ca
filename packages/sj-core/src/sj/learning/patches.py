"""Express Linear / Conv1d / Conv2d synapses as one matrix product over patches, so one STDP rule covers all.

A synapse with weight ``W`` (``O`` outputs) maps input patches ``[B, I, L]`` (``I`` = fan-in, ``L`` = output
positions; ``L = 1`` for Linear) to outputs ``[B, O, L]`` with ``W.view(O, I)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


def check_synapse(owner: str, synapse: nn.Module) -> None:
    """Raise a clear error unless ``synapse`` is a Linear, or a Conv1d/Conv2d with groups=1 and zero padding."""
    if not isinstance(synapse, SUPPORTED):
        raise TypeError(f"{owner}: synapse must be a Linear, Conv1d or Conv2d (sj wrappers included), got "
                        f"{type(synapse).__name__}")
    if isinstance(synapse, (nn.Conv1d, nn.Conv2d)):
        if synapse.groups != 1:
            raise ValueError(f"{owner}: grouped convolutions (groups={synapse.groups}) are not supported")
        if synapse.padding_mode != "zeros" or isinstance(synapse.padding, str):
            raise ValueError(f"{owner}: only numeric zero padding is supported, got padding={synapse.padding!r}, "
                             f"padding_mode={synapse.padding_mode!r}")


def input_patches(synapse: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One step of synapse input → patches ``[B, I, L]``."""
    if isinstance(synapse, nn.Linear):
        return x.reshape(-1, synapse.in_features, 1)
    if isinstance(synapse, nn.Conv1d):
        x = x.unsqueeze(-2)
        k, d, p, s = (1, *synapse.kernel_size), (1, *synapse.dilation), (0, *synapse.padding), (1, *synapse.stride)
    else:
        k, d, p, s = synapse.kernel_size, synapse.dilation, synapse.padding, synapse.stride
    return F.unfold(x, k, dilation=d, padding=p, stride=s)


def output_positions(synapse: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """One step of synapse output (or of a post-synaptic quantity shaped like it) → ``[B, O, L]``."""
    if isinstance(synapse, nn.Linear):
        return y.reshape(-1, synapse.out_features, 1)
    return y.flatten(2)


def weight_matrix(w: torch.Tensor) -> torch.Tensor:
    """``W`` as ``[O, I]``."""
    return w.reshape(w.shape[0], -1)
