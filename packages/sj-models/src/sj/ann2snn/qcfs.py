"""``SignedQCFSSequenceEncoder`` (SpikingJelly 2.0's ``ann2snn.qcfs``): a signed value as ``T`` steps of ±scale
spikes whose sum is its QCFS quantisation ``round(value / scale)`` (clamped to ``[−T, T]``) × scale.

Each sign has an :class:`~sj.neuron.ActivationAwareIFNode` (per-channel threshold ``scale``, potential offset
``scale / 2``, soft reset) fed ``|value| / T`` per step, so its spike count rounds ``|value| / scale``; where
floating-point accumulation misses the rounded count, the element's spikes are replayed as that many spikes in the
first steps. Spikes use a straight-through gradient (:class:`~sj.surrogate.DeterministicPass`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sj.neuron import ActivationAwareIFNode
from sj.surrogate import DeterministicPass

__all__ = ["SignedQCFSSequenceEncoder"]


def _offset_if_node(scale: torch.Tensor, channel_dim: int) -> ActivationAwareIFNode:
    """One sign's neuron: per-channel threshold ``scale``, offset ``scale / 2``, soft reset, straight-through spikes,
    step mode ``'m'`` (what SpikingJelly's qcfs builds)."""
    return ActivationAwareIFNode(scale, 0.5 * scale, channel_dim, v_reset=None, surrogate_function=DeterministicPass(),
                                 step_mode="m")


def quantized_count(x: torch.Tensor, time_steps: int) -> torch.Tensor:
    """``round(clamp(x, 0, T))`` with the gradient of the clamp (1 on ``[0, T]``, else 0)."""
    c = x.clamp(0, time_steps)
    return c + (c.round() - c).detach()


class SignedQCFSSequenceEncoder(nn.Module):
    """Encode a signed activation as a ``T``-step spike sequence (see the module docstring).

    Args:
        scale: positive per-channel quantisation steps, a 1-D tensor ``[C]``.
        time_steps: ``T`` (the largest spike count per sign).
        channel_dim: the channel dimension of a value. Default -1.
        collect_statistics: record spike rates, counts, the relative L2 error and the fraction of replayed elements
            at every call (:meth:`statistics`). Default ``True``.
        name: a label for the statistics.
    """

    def __init__(self, scale: torch.Tensor, time_steps: int, *, channel_dim: int = -1,
                 collect_statistics: bool = True, name: str = "activation") -> None:
        super().__init__()
        if not isinstance(scale, torch.Tensor):
            raise TypeError(f"scale must be a torch.Tensor, got {type(scale).__name__}")
        if scale.dim() != 1 or not torch.isfinite(scale).all() or not (scale > 0).all():
            raise ValueError("scale must be a finite positive one-dimensional tensor.")
        if isinstance(time_steps, bool) or not isinstance(time_steps, int):
            raise TypeError(f"time_steps must be an integer, got {time_steps!r}")
        if time_steps <= 0:
            raise ValueError(f"time_steps must be positive, got {time_steps}")
        if isinstance(channel_dim, bool) or not isinstance(channel_dim, int):
            raise TypeError(f"channel_dim must be an integer, got {channel_dim!r}")
        self.name, self.time_steps, self.channel_dim = str(name), time_steps, channel_dim
        self.collect_statistics = bool(collect_statistics)
        self.positive_neuron = _offset_if_node(scale, channel_dim)
        self.negative_neuron = _offset_if_node(scale, channel_dim)
        self.metric_scope = "activation"
        self._clear_statistics()

    def _clear_statistics(self) -> None:
        self.positive_spike_rate = self.negative_spike_rate = 0.0
        self.positive_spike_count = self.negative_spike_count = self.spike_value_count = 0
        self.local_relative_l2 = self.boundary_correction_fraction = 0.0

    def _scale_like(self, value: torch.Tensor) -> torch.Tensor:
        dim = self.channel_dim % value.dim()
        scale = self.positive_neuron.v_threshold.to(value)
        if value.shape[dim] != scale.numel():
            raise ValueError(f"Input channel size {value.shape[dim]} (dimension {dim}) does not match the QCFS scale "
                             f"of {scale.numel()} channels.")
        shape = [1] * value.dim()
        shape[dim] = scale.numel()
        return scale.reshape(shape)

    def _encode_nonnegative(self, node: ActivationAwareIFNode,
                            value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale = self._scale_like(value)
        node.reset()
        spikes = node(value.unsqueeze(0).expand(self.time_steps, *value.shape) / self.time_steps)
        desired = torch.round(value / scale).clamp(0, self.time_steps)
        mismatch = spikes.sum(0).ne(desired)
        if mismatch.any():
            membrane = node.v
            t = torch.arange(self.time_steps, device=value.device).reshape(self.time_steps, *[1] * value.dim())
            node.reset()
            replayed = node((t < desired.unsqueeze(0)).to(scale.dtype) * scale)
            spikes = torch.where(mismatch.unsqueeze(0), replayed, spikes)
            node.v = torch.where(mismatch, node.v, membrane)
            if self.collect_statistics and not torch.equal(spikes.sum(0), desired):
                raise RuntimeError("Signed QCFS encoding failed to replay target counts.")
        return spikes, mismatch

    def encode(self, value: torch.Tensor, metric_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``value`` ``[*]`` (floating point) → spike-valued sequence ``[T, *]`` (entries in {−scale, 0, scale})
        whose sum is the QCFS quantisation of ``value``. ``metric_mask`` (``value``'s shape without the channel
        dimension) restricts the statistics to the selected elements."""
        if not torch.is_floating_point(value):
            raise ValueError("Signed QCFS encoding requires a floating-point tensor.")
        if value.dim() == 0:
            raise ValueError("Signed QCFS encoding requires at least one dimension.")
        scale = self._scale_like(value)
        pos, pos_fixed = self._encode_nonnegative(self.positive_neuron, F.relu(value))
        neg, neg_fixed = self._encode_nonnegative(self.negative_neuron, F.relu(-value))
        sequence = (pos - neg) * scale
        if self.collect_statistics:
            self._record(value, sequence, pos, neg, pos_fixed, neg_fixed, metric_mask)
        return sequence

    def _record(self, value: torch.Tensor, sequence: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor,
                pos_fixed: torch.Tensor, neg_fixed: torch.Tensor, metric_mask: torch.Tensor | None) -> None:
        pos, neg, reconstructed, reference = pos.detach(), neg.detach(), sequence.sum(0), value
        count = value.numel()
        if metric_mask is not None:
            dim = self.channel_dim % value.dim()
            mask = metric_mask.to(device=value.device, dtype=torch.bool)
            expected = value.shape[:dim] + value.shape[dim + 1:]
            if mask.shape != expected:
                raise ValueError(f"metric_mask shape must match value dimensions excluding channel_dim: expected "
                                 f"{tuple(expected)}, got {tuple(mask.shape)}.")
            if not mask.any():
                raise ValueError("metric_mask must select at least one element.")
            full = mask.unsqueeze(dim).expand(value.shape)
            pos, neg = pos[:, full], neg[:, full]
            pos_fixed, neg_fixed = pos_fixed[full], neg_fixed[full]
            reconstructed, reference = reconstructed[full], reference[full]
            count = int(full.count_nonzero())
        self.positive_spike_rate = float(pos.mean().cpu())
        self.negative_spike_rate = float(neg.mean().cpu())
        self.positive_spike_count = int(pos.count_nonzero().cpu())
        self.negative_spike_count = int(neg.count_nonzero().cpu())
        self.spike_value_count = int(pos.numel())
        self.boundary_correction_fraction = (int(pos_fixed.count_nonzero()) + int(neg_fixed.count_nonzero())) / (
            2 * count)
        denominator = torch.linalg.vector_norm(reference.float()).clamp_min(1e-12)
        self.local_relative_l2 = float((torch.linalg.vector_norm((reconstructed - reference).float()) /
                                        denominator).detach().cpu())
        if not math.isfinite(self.local_relative_l2):
            raise ValueError("Signed QCFS local relative L2 must be finite.")

    def reconstruct(self, value: torch.Tensor) -> torch.Tensor:
        """The sum :meth:`encode` would produce, in closed form: ``(count(value⁺/s) − count(value⁻/s))·s`` with
        ``count = round(clamp(·, 0, T))`` (gradient of the clamp: QCFS training's straight-through estimate)."""
        if not torch.is_floating_point(value):
            raise ValueError("Signed QCFS reconstruction requires floating point.")
        if value.dim() == 0:
            raise ValueError("Signed QCFS reconstruction requires at least one dimension.")
        scale = self._scale_like(value)
        return (quantized_count(F.relu(value) / scale, self.time_steps)
                - quantized_count(F.relu(-value) / scale, self.time_steps)) * scale

    def forward(self, value_seq: torch.Tensor, metric_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``value_seq`` ``[T', *]`` → :meth:`encode` of its sum over time."""
        if value_seq.dim() < 2 or value_seq.shape[0] <= 0:
            raise ValueError("value_seq must have a non-empty leading time dimension.")
        return self.encode(value_seq.sum(0), metric_mask)

    def statistics(self) -> dict[str, object]:
        """The last call's statistics, plus the largest magnitude of the membrane potential left in the two neurons."""
        membranes = [float(v.detach().abs().max().cpu()) if isinstance(v, torch.Tensor) else abs(float(v))
                     for v in (self.positive_neuron.v, self.negative_neuron.v)]
        return {"name": self.name, "positive_spike_rate": self.positive_spike_rate,
                "negative_spike_rate": self.negative_spike_rate, "positive_spike_count": self.positive_spike_count,
                "negative_spike_count": self.negative_spike_count, "spike_value_count": self.spike_value_count,
                "local_relative_l2": self.local_relative_l2, "metric_scope": self.metric_scope,
                "boundary_correction_fraction": self.boundary_correction_fraction,
                "membrane_abs_max": max(membranes)}
