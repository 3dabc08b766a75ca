"""Gradient-based online training through time: OTTT/SLTT and FPTT (SpikingJelly-compatible functions).

Both run a network one time step at a time, back-propagate each step's loss right away and detach the neuron states
(``functional.detach_net``) so no graph spans two steps: memory does not grow with ``T``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sj.base import MemoryModule
from sj.functional.net import detach_net

__all__ = ["fptt_online_training", "fptt_online_training_init_w_ra", "ottt_online_training"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _check_sequences(owner: str, x_seq: torch.Tensor, target_seq: torch.Tensor, dims: int) -> None:
    """Both sequences share their first ``dims`` sizes (time first for FPTT; batch and time for OTTT), T ≥ 1."""
    what = "[T, ...]" if dims == 1 else "[B, T, ...]"
    if x_seq.dim() < dims or target_seq.dim() < dims or x_seq.shape[:dims] != target_seq.shape[:dims]:
        raise ValueError(f"{owner}: x_seq and target_seq must both be {what} with equal leading sizes, got "
                         f"{tuple(x_seq.shape)} and {tuple(target_seq.shape)}")
    if x_seq.shape[dims - 1] == 0:
        raise ValueError(f"{owner}: the sequence has no time steps ({tuple(x_seq.shape)})")


def fptt_online_training_init_w_ra(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The running averages ``W_ra`` FPTT starts from: a detached copy of every parameter of ``optimizer``, in its
    order (pass the list to :func:`fptt_online_training`, which updates it in place)."""
    return [p.detach().clone() for p in _parameters(optimizer)]


def _snapshot(modules: list[MemoryModule]) -> list[dict]:
    return [{k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in m.named_memories()} for m in modules]


def _restore(modules: list[MemoryModule], states: list[dict]) -> None:
    for m, state in zip(modules, states):
        for k, v in state.items():
            setattr(m, k, v)


def fptt_online_training(model: nn.Module, optimizer: torch.optim.Optimizer, x_seq: torch.Tensor,
                         target_seq: torch.Tensor, f_loss_t: LossFn, alpha: float, w_ra: list[torch.Tensor]) -> None:
    """One sequence of FPTT (Kag & Saligrama 2021; Yin et al. 2021 for SNNs).

    At every step t: ``loss = f_loss_t(model(x[t]), target[t]) + α/2 · Σ_i mse(W_i, W_ra,i + ∇_{i,t−1}/(2α))``,
    backward, ``optimizer.step()``, ``detach_net``; then (except at the last step) the plain loss of the same input is
    back-propagated once more from the updated weights to get ``∇_{i,t}`` and the running average
    ``W_ra,i ← (W_ra,i + W_i)/2 − ∇_{i,t}/(2α)``; the network state this extra pass leaves is rolled back.

    Args:
        model: the network (single-step mode).
        optimizer: its optimizer; ``w_ra`` follows the order of its parameters.
        x_seq: inputs ``[T, N, ...]`` (time first).
        target_seq: targets ``[T, ...]`` (one per step).
        f_loss_t: ``f_loss_t(y_t, target_t) → scalar``.
        alpha: the FPTT regulariser weight (> 0).
        w_ra: running averages from :func:`fptt_online_training_init_w_ra`; updated in place.
    """
    owner = "fptt_online_training"
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"{owner}: alpha must be a finite number > 0, got {alpha!r}")
    _check_sequences(owner, x_seq, target_seq, 1)
    params = _parameters(optimizer)
    if len(w_ra) != len(params):
        raise ValueError(f"{owner}: w_ra has {len(w_ra)} tensors but the optimizer {len(params)} parameters; build it "
                         "with fptt_online_training_init_w_ra(optimizer)")
    previous: list[torch.Tensor | None] = [None] * len(params)
    stateful = [m for m in model.modules() if isinstance(m, MemoryModule)]
    for t, (x_t, target_t) in enumerate(zip(x_seq, target_seq)):
        optimizer.zero_grad()
        loss = f_loss_t(model(x_t), target_t)
        loss = loss + alpha / 2.0 * sum(
            F.mse_loss(p, w_ra[i] if previous[i] is None else w_ra[i] + previous[i] / (2.0 * alpha))
            for i, p in enumerate(params))
        loss.backward()
        optimizer.step()
        detach_net(model)
        optimizer.zero_grad()
        if t < x_seq.shape[0] - 1:  # the extra pass advances the states: put them back after it
            states = _snapshot(stateful)
            f_loss_t(model(x_t), target_t).backward()
            with torch.no_grad():
                for i, p in enumerate(params):
                    grad = torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                    previous[i] = grad
                    w_ra[i] = (w_ra[i] + p) / 2.0 - grad / (2.0 * alpha)
            _restore(stateful, states)
        optimizer.zero_grad()


def ottt_online_training(model: nn.Module, optimizer: torch.optim.Optimizer, x_seq: torch.Tensor,
                         target_seq: torch.Tensor, f_loss_t: LossFn,
                         online: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One sequence of OTTT (Xiao et al. 2022) or SLTT (Meng et al. 2023): back-propagate every step's loss at once.

    Args:
        model: the network (single-step mode; OTTT/SLTT neurons keep their own traces). An output that is a tuple or
            list contributes its first element.
        optimizer: its optimizer.
        x_seq: inputs ``[B, T, ...]`` (batch first, as SpikingJelly's OTTT examples).
        target_seq: targets ``[B, T, ...]``.
        f_loss_t: ``f_loss_t(y_t, target_t) → scalar``.
        online: ``True``: ``optimizer.step()`` after every time step; ``False``: gradients accumulate over the
            sequence and the optimizer steps once at the end.

    Returns:
        ``(batch_loss, y_all)``: the sum of the per-step losses (detached scalar) and the detached outputs
        ``[B, T, ...]``.
    """
    _check_sequences("ottt_online_training", x_seq, target_seq, 2)
    batch_loss = torch.zeros((), device=x_seq.device)
    outputs = []
    if not online:
        optimizer.zero_grad()
    for x_t, target_t in zip(x_seq.transpose(0, 1), target_seq.transpose(0, 1)):
        if online:
            optimizer.zero_grad()
        y_t = model(x_t)
        if isinstance(y_t, (list, tuple)):
            y_t = y_t[0]
        loss = f_loss_t(y_t, target_t.contiguous())
        loss.backward()
        if online:
            optimizer.step()
        detach_net(model)  # the next step must not back-propagate into this step's (freed) graph
        batch_loss = batch_loss + loss.detach()
        outputs.append(y_t.detach())
    if not online:
        optimizer.step()
    return batch_loss, torch.stack(outputs, dim=1)
