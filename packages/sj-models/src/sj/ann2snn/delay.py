"""``estimate_delay_start``: how many steps a rate-coded SNN needs before its outputs are worth reading (SpikingJelly
2.0's ``ann2snn.delay``).

For every spiking block ``scaler0 → neuron → scaler1`` of a converted network, the delay ratio is the charge a
neuron needs before its first spike, ``max(V_th − v_0, 0)``, over the mean activation it receives, both in the ANN's
units (× λ / V_th); per-channel scalers take the largest per-channel ratio. Calibration batches run through the
network with each neuron replaced by ``clamp(x, 0, V_th)`` (its ideal rate), the ratios are averaged over batches and
summed over the blocks (delays add up along the layers), rounded up.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from itertools import islice

import torch
from torch import nn

from sj.ann2snn.modules import ChannelVoltageScaler, SpikingActivation, VoltageScaler
from sj.functional import reset_net
from sj.neuron import BaseNode

MIN_READOUT_STEPS = 4  # steps kept for reading the output after the delay


def _batch_input(batch: object) -> torch.Tensor:
    x = batch[0] if isinstance(batch, (tuple, list)) and batch else batch
    if not isinstance(x, torch.Tensor):
        raise TypeError("estimate_delay_start supports dataloaders that yield a tensor or a non-empty tuple/list whose "
                        f"first element is the model input, got {type(batch).__name__}")
    return x


def initial_potential(node: nn.Module) -> float | torch.Tensor:
    """The potential a neuron starts from after a reset (``v_reset``, 0 for a soft reset, or what its ``v`` memory
    resets to)."""
    rv = getattr(node, "_memories_rv", {}).get("v")
    if rv is None:
        rv = getattr(node, "v_reset_value", None)
    return 0.0 if rv is None else rv


def delay_ratio(node: nn.Module, post_scaler: VoltageScaler | ChannelVoltageScaler, x: torch.Tensor) -> torch.Tensor:
    """The delay ratio of one neuron for its input ``x`` (see the module docstring); 0 when it receives nothing."""
    th = torch.as_tensor(node.v_threshold, device=x.device, dtype=x.dtype)
    if th.numel() != 1:
        raise ValueError("Delay estimation requires a scalar neuron v_threshold.")
    if not torch.isfinite(th).all() or (th <= 0).any():
        raise ValueError("Delay estimation requires a finite positive v_threshold.")
    v0 = torch.as_tensor(initial_potential(node), device=x.device, dtype=x.dtype)
    channel_dim = None
    if isinstance(post_scaler, ChannelVoltageScaler):
        scale = post_scaler._view_scale(x).to(device=x.device, dtype=x.dtype)
        channel_dim = post_scaler.channel_dim
    else:
        scale = post_scaler.scale.to(device=x.device, dtype=x.dtype)
    activation = torch.clamp(x.detach(), min=0) * scale / th
    charge = torch.clamp(th - v0, min=0) * scale / th
    if channel_dim is None or scale.dim() == 0:
        mean_activation, needed = activation.mean(), charge.mean()
    else:
        dim = channel_dim + activation.dim() if channel_dim < 0 else channel_dim
        if not 0 <= dim < activation.dim():
            raise ValueError(f"channel_dim={channel_dim} is out of range for delay estimation")
        others = tuple(d for d in range(activation.dim()) if d != dim)
        mean_activation = activation.mean(dim=others).max()
        needed = charge.mean(dim=others).max()
    if mean_activation <= 0:
        return torch.zeros((), device=x.device, dtype=x.dtype)
    return (needed / mean_activation).detach()


def _blocks(model: nn.Module) -> list[tuple[BaseNode, VoltageScaler | ChannelVoltageScaler]]:
    return [(m.if_node, m.scaler1) for m in model.modules() if isinstance(m, SpikingActivation)
            and isinstance(m.if_node, BaseNode) and isinstance(m.scaler0, (VoltageScaler, ChannelVoltageScaler))
            and isinstance(m.scaler1, (VoltageScaler, ChannelVoltageScaler))]


def estimate_delay_start(model: nn.Module, dataloader: Iterable, device: str | torch.device, time_steps: int,
                         num_batches: int = 1) -> int:
    """The first step at which to start reading a converted network's output.

    Args:
        model: a converted network (its ``scaler0 → neuron → scaler1`` blocks are measured).
        dataloader: calibration batches (tensors, or tuples/lists whose first element is the input), fed to
            ``model`` as it is (one step ``[N, *]`` in step mode ``'s'``).
        device: where to run them (the model returns to its device afterwards).
        time_steps: the simulation length T.
        num_batches: how many batches to use. Default 1.

    Returns:
        ``ceil(sum of the blocks' mean ratios)``, at most ``T − 1``; when fewer than 4 readout steps would remain it
        warns and returns ``max(T − 5, 0)``. 0 for a network without such blocks.
    """
    if time_steps <= 0:
        raise ValueError(f"time_steps must be positive, got {time_steps}")
    if num_batches <= 0:
        raise ValueError(f"num_batches must be positive, got {num_batches}")
    paths = _blocks(model)
    if not paths:
        return 0
    ref = next(model.parameters(), None)
    ref = ref if ref is not None else next(model.buffers(), None)
    original_device = ref.device if ref is not None else torch.device("cpu")
    training = {m: m.training for m in model.modules()}
    ratios: dict[int, list[float]] = {id(node): [] for node, _ in paths}

    def hook_for(node: BaseNode, post: VoltageScaler | ChannelVoltageScaler):
        def hook(_module: nn.Module, inputs: tuple, _output: torch.Tensor) -> torch.Tensor:
            if len(inputs) != 1 or not isinstance(inputs[0], torch.Tensor):
                raise TypeError("Delay estimation neuron hook expects one tensor input.")
            x = inputs[0]
            ratios[id(node)].append(float(delay_ratio(node, post, x).cpu().item()))
            return torch.clamp(x, min=0, max=float(torch.as_tensor(node.v_threshold).item()))
        return hook

    handles = []
    try:
        model.eval().to(device)
        handles = [node.register_forward_hook(hook_for(node, post)) for node, post in paths]
        with torch.no_grad():
            for batch in islice(dataloader, num_batches):
                reset_net(model)
                model(_batch_input(batch).to(device, non_blocking=True))
    finally:
        for h in handles:
            h.remove()
        reset_net(model)
        model.to(original_device)
        for m, t in training.items():
            m.training = t
    if not any(ratios.values()):
        warnings.warn("estimate_delay_start did not collect any delay ratios; no delayed readout will be applied.",
                      RuntimeWarning, stacklevel=2)
    delay = sum(sum(v) / len(v) for v in ratios.values() if v)
    raw = math.ceil(delay) if math.isfinite(delay) else time_steps
    if time_steps < raw + MIN_READOUT_STEPS:
        warnings.warn(f"estimate_delay_start: time_steps={time_steps} is too small to keep {MIN_READOUT_STEPS} "
                      f"readout steps after the estimated delay {raw}; disabling delayed readout.", RuntimeWarning,
                      stacklevel=2)
        return max(time_steps - MIN_READOUT_STEPS - 1, 0)
    return min(raw, time_steps - 1)
