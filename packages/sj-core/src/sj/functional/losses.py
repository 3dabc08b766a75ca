"""Loss functions for spiking networks (SpikingJelly-compatible names and layouts)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def temporal_efficient_training_cross_entropy(x_seq: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """TET loss (Deng et al., 2022): the cross entropy of every step's output, averaged over time.

    Args:
        x_seq: logits ``[T, N, C]`` (time first).
        target: class indices ``[N]`` (int64) or class probabilities ``[N, C]``.

    Returns:
        A scalar: ``mean_t cross_entropy(x_seq[t], target)``.
    """
    if x_seq.dim() != 3:
        raise ValueError("temporal_efficient_training_cross_entropy: x_seq must be [T, N, C], got "
                         f"{tuple(x_seq.shape)}")
    T = x_seq.shape[0]
    # [T, N, C] -> [N, C, T] so cross_entropy averages over N and T at once
    logits = x_seq.permute(1, 2, 0)
    if target.dim() == 1:
        target = target.unsqueeze(1).expand(-1, T)
    elif target.dim() == 2:
        target = target.unsqueeze(2).expand(-1, -1, T)
    else:
        raise ValueError(f"temporal_efficient_training_cross_entropy: target must be [N] or [N, C], got "
                         f"{tuple(target.shape)}")
    return F.cross_entropy(logits, target)


_KERNELS = ("linear", "polynomial", "sigmoid", "gaussian")


def kernel_dot_product(x: torch.Tensor, y: torch.Tensor, kernel: str = "linear", *args: float) -> torch.Tensor:
    """Pairwise kernel inner products of the rows of ``x`` ``[N, *]`` and ``y`` ``[M, *]`` → ``[N, M]``.

    ``kernel``: ``'linear'`` (x·y), ``'polynomial'`` ((x·y)^d, ``args=(d,)``), ``'sigmoid'`` (σ(α·x·y),
    ``args=(α,)``) or ``'gaussian'`` (exp(−‖x − y‖²/(2σ²)), ``args=(σ,)``).
    """
    x, y = x.flatten(1), y.flatten(1)
    if kernel == "linear":
        return x @ y.t()
    if kernel == "polynomial":
        return (x @ y.t()).pow(args[0] if args else 2)
    if kernel == "sigmoid":
        return torch.sigmoid((args[0] if args else 1.0) * (x @ y.t()))
    if kernel == "gaussian":
        sigma = args[0] if args else 1.0
        return torch.exp(-torch.cdist(x, y).pow(2) / (2 * sigma**2))
    raise ValueError(f"kernel_dot_product: kernel must be one of {_KERNELS}, got {kernel!r}")


def spike_similar_loss(spikes: torch.Tensor, labels: torch.Tensor, kernel_type: str = "linear",
                       loss_type: str = "mse", *args: float) -> torch.Tensor:
    """Make the spike trains of same-class samples similar and of different-class samples dissimilar.

    Args:
        spikes: ``[N, M, T]`` spike trains of N samples (any trailing layout; flattened per sample).
        labels: ``[N, C]`` multi-hot labels (``labels[i, k] = 1`` if sample i is of class k).
        kernel_type: similarity kernel, see :func:`kernel_dot_product`.
        loss_type: ``'mse'``, ``'l1'`` (on cosine-normalised similarities) or ``'bce'`` (on σ(similarity)).

    Returns:
        A scalar comparing the ``[N, N]`` spike similarities with the label similarities ``min(1, L·Lᵀ)``.
    """
    if spikes.dim() < 2 or labels.dim() != 2 or spikes.shape[0] != labels.shape[0]:
        raise ValueError(f"spike_similar_loss: expected spikes [N, ...] and labels [N, C], got {tuple(spikes.shape)} "
                         f"and {tuple(labels.shape)}")
    sim_p = kernel_dot_product(spikes, spikes, kernel_type, *args)
    labels = labels.to(sim_p.dtype)
    sim_l = (labels @ labels.t()).clamp_max(1)
    if loss_type in ("mse", "l1"):
        norm = sim_p.diagonal().clamp_min(0).sqrt().unsqueeze(1) + 1e-8
        sim_p = sim_p / (norm * norm.t())
        return F.mse_loss(sim_p, sim_l) if loss_type == "mse" else F.l1_loss(sim_p, sim_l)
    if loss_type == "bce":
        return F.binary_cross_entropy(torch.sigmoid(sim_p), sim_l)
    raise ValueError(f"spike_similar_loss: loss_type must be 'mse', 'l1' or 'bce', got {loss_type!r}")
