"""Small helpers: threshold margins for an output layer, redundant one-hot labels, a whole-sequence delay."""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn


def _finite(owner: str, **values: float) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"{owner}: {name} must be a finite number, got {v!r}")


def set_threshold_margin(output_layer: nn.Module, label_one_hot: torch.Tensor, eval_threshold: float = 1.0,
                         threshold0: float = 0.9, threshold1: float = 1.1) -> None:
    """Give the output neurons of a classifier a threshold margin.

    In training mode the neuron of each sample's true class gets threshold ``threshold1`` and the others
    ``threshold0`` (a ``[N, C]`` threshold, one row per sample); in eval mode every neuron gets ``eval_threshold``.

    Args:
        output_layer: the output neuron layer (output ``[N, C]``), e.g. :class:`sj.neuron.IFNode`.
        label_one_hot: one-hot labels ``[N, C]``.
        eval_threshold, threshold0, threshold1: the thresholds (finite numbers).
    """
    owner = "set_threshold_margin"
    _finite(owner, eval_threshold=eval_threshold, threshold0=threshold0, threshold1=threshold1)
    if not hasattr(output_layer, "v_threshold"):
        raise TypeError(f"{owner}: output_layer must be a neuron layer with a v_threshold, got "
                        f"{type(output_layer).__name__}")
    current = output_layer.v_threshold
    dtype = current.dtype if isinstance(current, torch.Tensor) else torch.get_default_dtype()
    if output_layer.training:
        if label_one_hot.dim() != 2:
            raise ValueError(f"{owner}: label_one_hot must be [N, C], got {tuple(label_one_hot.shape)}")
        margin = torch.full(label_one_hot.shape, threshold0, dtype=dtype, device=label_one_hot.device)
        output_layer.v_threshold = margin.masked_fill(label_one_hot == 1, threshold1)
    elif isinstance(current, torch.Tensor):
        output_layer.v_threshold = torch.tensor(eval_threshold, dtype=dtype, device=current.device)
    else:
        output_layer.v_threshold = eval_threshold


def redundant_one_hot(labels: torch.Tensor, num_classes: int, n: int) -> torch.Tensor:
    """Encode each class by ``n`` ones: labels ``[N]`` → ``[N, num_classes·n]`` in the default float dtype.

    Raises ``ValueError`` for ``n < 1`` and (from ``one_hot``) for labels outside ``[0, num_classes)``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"redundant_one_hot: n must be an int >= 1, got {n!r}")
    return F.one_hot(labels, num_classes).repeat_interleave(n, dim=-1).to(torch.get_default_dtype())


def delay(x_seq: torch.Tensor, delay_steps: int) -> torch.Tensor:
    """Delay a whole sequence ``[T, *]`` by ``delay_steps ≥ 0`` steps: ``y[t] = x[t − delay_steps]``, zeros before
    (all zeros when ``delay_steps ≥ T``). ``delay_steps = 0`` returns ``x_seq`` itself."""
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, int) or delay_steps < 0:
        raise ValueError(f"delay: delay_steps must be an int >= 0, got {delay_steps!r}")
    if x_seq.dim() < 1:
        raise ValueError("delay: x_seq must be a sequence [T, *], got a 0-d tensor")
    if delay_steps == 0:
        return x_seq
    if delay_steps >= x_seq.shape[0]:
        return torch.zeros_like(x_seq)
    return torch.cat((torch.zeros_like(x_seq[:delay_steps]), x_seq[:-delay_steps]))
