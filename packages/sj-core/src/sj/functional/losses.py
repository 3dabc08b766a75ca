"""Loss functions for spiking networks (SpikingJelly-compatible names and layouts)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def temporal_efficient_training_cross_entropy(x_seq: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """TET loss (Deng et al., 2022): the cross entropy of every step's output, averaged over time.

    Args:
        x_seq: logits ``[T, N, C, *]`` (time first; trailing dimensions as :func:`torch.nn.functional.cross_entropy`).
        target: class indices ``[N, *]`` (an integer tensor) or class probabilities ``[N, C, *]`` (floating).

    Returns:
        A scalar: ``mean_t cross_entropy(x_seq[t], target)``.
    """
    owner = "temporal_efficient_training_cross_entropy"
    if x_seq.dim() < 3:
        raise ValueError(f"{owner}: x_seq must be [T, N, C, *], got {tuple(x_seq.shape)}")
    T = x_seq.shape[0]
    logits = x_seq.movedim(0, 2)  # [N, C, T, *]: one cross_entropy call averages over N, T and the rest
    n, c, rest = x_seq.shape[1], x_seq.shape[2], tuple(x_seq.shape[3:])
    if target.dtype.is_floating_point:
        if target.shape != (n, c, *rest):
            raise ValueError(f"{owner}: class probabilities must be [N, C, *] = {[n, c, *rest]}, got "
                             f"{tuple(target.shape)}")
        target = target.unsqueeze(2).expand(n, c, T, *rest)
    else:
        if target.shape != (n, *rest):
            raise ValueError(f"{owner}: class indices must be [N, *] = {[n, *rest]}, got {tuple(target.shape)}")
        target = target.unsqueeze(1).expand(n, T, *rest)
    return F.cross_entropy(logits, target)


_KERNELS = ("linear", "polynomial", "sigmoid", "gaussian")


def kernel_dot_product(x: torch.Tensor, y: torch.Tensor, kernel: str = "linear", *args: float) -> torch.Tensor:
    """Pairwise kernel inner products of the rows of ``x`` ``[N, *]`` and ``y`` ``[M, *]`` → ``[N, M]``.

    ``kernel``: ``'linear'`` (x·y), ``'polynomial'`` ((x·y)^d, ``args=(d,)``), ``'sigmoid'`` (σ(α·x·y),
    ``args=(α,)``) or ``'gaussian'`` (exp(−‖x − y‖²/(2σ²)), ``args=(σ,)``, σ > 0). SpikingJelly requires ``args``;
    sj defaults them to d = 2, α = 1, σ = 1.
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
        if not sigma > 0:
            raise ValueError(f"kernel_dot_product: the gaussian kernel needs sigma > 0, got {sigma}")
        # ‖x‖² + ‖y‖² − 2x·y (cdist's gradient is NaN at zero distance, i.e. on the diagonal of x against itself)
        d2 = x.square().sum(1, keepdim=True) + y.square().sum(1) - 2 * (x @ y.t())
        return torch.exp(-d2 / (2 * sigma**2))
    raise ValueError(f"kernel_dot_product: kernel must be one of {_KERNELS}, got {kernel!r}")


def spike_similar_loss(spikes: torch.Tensor, labels: torch.Tensor, kernel_type: str = "linear",
                       loss_type: str = "mse", *args: float) -> torch.Tensor:
    """Make the spike trains of same-class samples similar and of different-class samples dissimilar.

    Args:
        spikes: ``[N, M, T]`` spike trains of N samples (any trailing layout; flattened per sample).
        labels: ``[N, C]`` multi-hot labels (``labels[i, k] = 1`` if sample i is of class k).
        kernel_type: similarity kernel, see :func:`kernel_dot_product`; the ``'linear'`` kernel is normalised to the
            cosine similarity.
        loss_type: ``'mse'``, ``'l1'`` or ``'bce'`` between the ``[N, N]`` spike similarities and the label
            similarities ``min(1, L·Lᵀ)``; ``'bce'`` needs similarities in [0, 1] (not the polynomial kernel).
        args: the kernel's parameters.

    Returns:
        A scalar.
    """
    owner = "spike_similar_loss"
    if spikes.dim() < 2 or labels.dim() != 2 or spikes.shape[0] != labels.shape[0]:
        raise ValueError(f"{owner}: expected spikes [N, ...] and labels [N, C], got {tuple(spikes.shape)} and "
                         f"{tuple(labels.shape)}")
    if loss_type not in ("mse", "l1", "bce"):
        raise ValueError(f"{owner}: loss_type must be 'mse', 'l1' or 'bce', got {loss_type!r}")
    spikes = spikes.flatten(1)
    sim_p = kernel_dot_product(spikes, spikes, kernel_type, *args)
    if kernel_type == "linear":
        norm = spikes.norm(p=2, dim=1, keepdim=True)
        sim_p = sim_p / (norm @ norm.t() + 1e-8)
    labels = labels.to(sim_p.dtype)
    sim = (labels @ labels.t()).clamp_max(1)
    if loss_type == "mse":
        return F.mse_loss(sim_p, sim)
    if loss_type == "l1":
        return F.l1_loss(sim_p, sim)
    eps = 16 * torch.finfo(sim_p.dtype).eps
    if not bool(((sim_p >= -eps) & (sim_p <= 1 + eps)).all()):
        raise ValueError(f"{owner}: loss_type='bce' needs similarities in [0, 1]; the {kernel_type!r} kernel gave "
                         f"values in [{sim_p.min().item():.4g}, {sim_p.max().item():.4g}]")
    # a cosine of 1 can round to 1 + ε (SpikingJelly then fails inside binary_cross_entropy); clamp the rounding
    return F.binary_cross_entropy(sim_p.clamp(0, 1), sim)
