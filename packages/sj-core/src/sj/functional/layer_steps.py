"""One explicit state transition of SpikingJelly's stateful layers (NeuNorm, Delay, SynapseFilter).

Each function takes the state and returns the next one; nothing is read from or written to a module, and no input
is modified in place. There is no multi-step form: loop over time.
"""

from __future__ import annotations

import torch


def neunorm_step(in_spikes: torch.Tensor, state: torch.Tensor, weight: torch.Tensor, momentum: float,
                 input_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """NeuNorm (Wu et al. 2019): ``state' = momentum·state + input_scale·Σ_c in_spikes[:, c]`` and
    ``output = in_spikes − weight·state'``.

    Args:
        in_spikes: ``[N, C, H, W]``.
        state: ``[N, 1, H, W]``.
        weight: broadcastable to ``in_spikes`` (e.g. ``[C, H, W]``).
        momentum, input_scale: the coefficients of the old state and of the channel sum.

    Returns:
        ``(output [N, C, H, W], state' [N, 1, H, W])``.
    """
    if in_spikes.dim() != 4 or state.shape != (in_spikes.shape[0], 1, *in_spikes.shape[2:]):
        raise ValueError(f"neunorm_step: expected in_spikes [N, C, H, W] and state [N, 1, H, W], got "
                         f"{tuple(in_spikes.shape)} and {tuple(state.shape)}")
    state_next = momentum * state + input_scale * in_spikes.sum(dim=1, keepdim=True)
    return in_spikes - weight * state_next, state_next


def delay_step(x: torch.Tensor, queue: tuple[torch.Tensor, ...],
               delay_steps: int) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """One step of a ``delay_steps``-step delay line.

    Args:
        x: this step's input.
        queue: the pending inputs, oldest first (start with ``()``).
        delay_steps: the delay (an int ≥ 0).

    Returns:
        ``(y, queue')``: the input of ``delay_steps`` steps ago (zeros until the line is full) and the new queue. ``y``
        is ``x`` itself when ``delay_steps = 0`` and the queue is empty.
    """
    if isinstance(delay_steps, bool) or not isinstance(delay_steps, int) or delay_steps < 0:
        raise ValueError(f"delay_step: delay_steps must be an int >= 0, got {delay_steps!r}")
    line = (*queue, x)
    if len(line) > delay_steps:
        return line[0], line[1:]
    return torch.zeros_like(x), line


def synapse_filter_step(x: torch.Tensor, out_i: torch.Tensor,
                        reciprocal_tau: float | torch.Tensor) -> torch.Tensor:
    """SpikingJelly's SynapseFilter transition: ``I' = I − (1 − x)·I/τ + x``: the current decays by ``1/τ`` on steps
    without an input spike and jumps by ``x`` on steps with one.

    Args:
        x: this step's input (spikes or current).
        out_i: the current ``I`` (same shape as ``x``).
        reciprocal_tau: ``1/τ`` (a number, or ``sigmoid(w)`` for a learnable time constant).
    """
    return out_i - (1.0 - x) * out_i * reciprocal_tau + x
