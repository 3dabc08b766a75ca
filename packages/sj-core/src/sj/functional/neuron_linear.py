"""A spiking neuron layer followed by a Linear layer, as one call with explicit state (SpikingJelly's ``if_linear`` and
``lif_linear``).

SpikingJelly 2.0 fuses the pair in a CUDA kernel (CUDA and float32 only) that never stores the spikes. sj runs the
neuron's multi-step op (any backend of the neuron, any device and float dtype) and then the matrix product; values
and gradients are the same.
"""

from __future__ import annotations

import torch

from sj.surrogate import Sigmoid, SurrogateFunction

_THREADS = (128, 256, 512)


def _run(owner: str, make_node, x: torch.Tensor, v: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None,
         surrogate_function: SurrogateFunction | None, threads: int) -> tuple[torch.Tensor, torch.Tensor]:
    if x.dim() not in (2, 3):
        raise ValueError(f"{owner}: x must be [M, K] or [T, M, K], got {tuple(x.shape)}")
    x_seq = x if x.dim() == 3 else x.unsqueeze(0)
    t, m, k = x_seq.shape
    if min(t, m, k) == 0:
        raise ValueError(f"{owner}: x must have no empty dimension, got {tuple(x.shape)}")
    if v.shape != (m, k):
        raise ValueError(f"{owner}: v must be [M, K] = {[m, k]}, got {tuple(v.shape)}")
    if weight_t.dim() != 2 or weight_t.shape[0] != k:
        raise ValueError(f"{owner}: weight_t must be the transposed weight [K, N] with K={k}, got "
                         f"{tuple(weight_t.shape)}")
    if bias is not None and bias.shape != weight_t.shape[1:]:
        raise ValueError(f"{owner}: bias must be [N] = [{weight_t.shape[1]}], got {tuple(bias.shape)}")
    if threads not in _THREADS:
        raise ValueError(f"{owner}: threads must be one of {_THREADS} (a CUDA launch setting SpikingJelly checks; "
                         f"it has no effect in sj), got {threads!r}")
    sg = Sigmoid() if surrogate_function is None else surrogate_function
    if not isinstance(sg, SurrogateFunction) or not sg.spiking:
        raise ValueError(f"{owner}: surrogate_function must be a declared sj surrogate with spiking=True, got {sg!r}")
    node = make_node(sg)
    node.v = v  # the initial membrane potential; the op reads it and never writes into it
    spikes = node(x_seq)
    y = spikes @ weight_t
    if bias is not None:
        y = y + bias
    return (y if x.dim() == 3 else y[0]), node.v


def if_linear(x: torch.Tensor, v: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None = None, *,
              v_threshold: float = 1.0, v_reset: float | None = 0.0, detach_reset: bool = False,
              surrogate_function: SurrogateFunction | None = None,
              threads: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate-and-fire neurons, then ``Linear``: ``y = spikes @ weight_t + bias``.

    Args:
        x: input current ``[M, K]`` (one step) or ``[T, M, K]``.
        v: initial membrane potential ``[M, K]`` (not modified).
        weight_t: the Linear weight transposed, ``[K, N]``.
        bias: ``[N]`` or ``None``.
        v_threshold: firing threshold. v_reset: hard-reset potential; ``None`` = soft reset (subtract the threshold).
        detach_reset: detach the reset from the graph. surrogate_function: spiking surrogate (default ``Sigmoid()``).
        threads: accepted for SpikingJelly compatibility (128, 256 or 512); no effect.

    Returns:
        ``(y [M, N] or [T, M, N], v_final [M, K])``; differentiable in ``x``, ``v``, ``weight_t`` and ``bias``.
    """
    from sj.neuron import IFNode

    return _run("if_linear", lambda sg: IFNode(v_threshold=v_threshold, v_reset=v_reset, surrogate_function=sg,
                                               detach_reset=detach_reset, step_mode="m"),
                x, v, weight_t, bias, surrogate_function, threads)


def lif_linear(x: torch.Tensor, v: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None = None, *,
               tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0, v_reset: float | None = 0.0,
               detach_reset: bool = False, surrogate_function: SurrogateFunction | None = None,
               threads: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Leaky integrate-and-fire neurons (``tau`` > 1 steps, ``decay_input`` as :class:`sj.neuron.LIFNode`), then
    ``Linear``. Arguments and result as :func:`if_linear`."""
    from sj.neuron import LIFNode

    return _run("lif_linear", lambda sg: LIFNode(tau=tau, decay_input=decay_input, v_threshold=v_threshold,
                                                 v_reset=v_reset, surrogate_function=sg, detach_reset=detach_reset,
                                                 step_mode="m"),
                x, v, weight_t, bias, surrogate_function, threads)
