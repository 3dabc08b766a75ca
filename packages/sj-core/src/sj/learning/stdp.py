"""Trace-based STDP and its reward-modulated variants (SpikingJelly-compatible learners).

Pair-based STDP with traces: each step, ``tr_pre ← decay(tr_pre) + s_pre`` and ``tr_post ← decay(tr_post) + s_post``,
and the per-sample eligibility of synapse (o, i) is

    e[o, i] = f_post(w[o, i]) · tr_pre[i] · s_post[o]  −  f_pre(w[o, i]) · tr_post[o] · s_pre[i]

(summed over the output positions of a convolution). ``f_pre``/``f_post`` default to the identity, i.e. the
update is proportional to the weight, as in SpikingJelly. Learners hook the synapse (its input = presynaptic spikes)
and the neuron (its output = postsynaptic spikes), store detached copies only (never an autograd graph), and turn the
recorded steps into ``ΔW`` in :meth:`step`. With ``on_grad=True`` (default) they write ``weight.grad −= ΔW`` so any
torch optimizer applies ``W += lr·ΔW`` (SGD).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from sj.base import StepModule
from sj.learning import patches
from sj.monitor import InputMonitor, OutputMonitor

WeightFn = Callable[[torch.Tensor], torch.Tensor]


def _identity(w: torch.Tensor) -> torch.Tensor:
    return w


class _TraceLearner(StepModule):
    """Records pre/post spikes of one synapse and computes per-sample eligibilities ``[B, O, I]`` step by step."""

    exponential_decay = False  # STDP: tr·(1 − 1/τ); reward-modulated variants: tr·e^(−1/τ)

    def __init__(self, step_mode: str, synapse: nn.Module, sn: nn.Module, tau_pre: float, tau_post: float,
                 f_pre: WeightFn = _identity, f_post: WeightFn = _identity) -> None:
        owner = type(self).__name__
        patches.check_synapse(owner, synapse)
        if not isinstance(sn, nn.Module):
            raise TypeError(f"{owner}: sn must be the postsynaptic neuron module, got {type(sn).__name__}")
        for name, tau in (("tau_pre", tau_pre), ("tau_post", tau_post)):
            if not float(tau) > (0.0 if self.exponential_decay else 1.0):
                raise ValueError(f"{owner}: {name} must be > {0 if self.exponential_decay else 1}, got {tau}")
        self.step_mode = step_mode
        self.synapse, self.sn = synapse, sn
        self.tau_pre, self.tau_post = float(tau_pre), float(tau_post)
        self.f_pre, self.f_post = f_pre, f_post
        self.in_spike_monitor = InputMonitor(synapse, type(synapse))
        self.out_spike_monitor = OutputMonitor(sn, type(sn))
        self.trace_pre: torch.Tensor | None = None
        self.trace_post: torch.Tensor | None = None

    def _decay(self, tau: float) -> float:
        return math.exp(-1.0 / tau) if self.exponential_decay else 1.0 - 1.0 / tau

    def reset(self) -> None:
        """Clear the traces and the recorded spikes."""
        self.trace_pre = self.trace_post = None
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()

    def enable(self) -> None:
        """Resume recording spikes."""
        self.in_spike_monitor.enable()
        self.out_spike_monitor.enable()

    def disable(self) -> None:
        """Pause recording spikes (e.g. during evaluation)."""
        self.in_spike_monitor.disable()
        self.out_spike_monitor.disable()

    def remove_hooks(self) -> None:
        """Release the hooks on the synapse and the neuron."""
        self.in_spike_monitor.remove_hooks()
        self.out_spike_monitor.remove_hooks()

    def _eligibility(self, s_pre: torch.Tensor, s_post: torch.Tensor) -> torch.Tensor:
        """Advance the traces by one step and return the per-sample eligibility ``[B, O, I]``."""
        self.trace_pre = s_pre if self.trace_pre is None else self.trace_pre * self._decay(self.tau_pre) + s_pre
        self.trace_post = (s_post if self.trace_post is None
                           else self.trace_post * self._decay(self.tau_post) + s_post)
        syn = self.synapse
        pre, tr_pre = patches.input_patches(syn, s_pre), patches.input_patches(syn, self.trace_pre)
        post, tr_post = patches.output_positions(syn, s_post), patches.output_positions(syn, self.trace_post)
        w = syn.weight.detach()
        f_pre = patches.weight_matrix(self.f_pre(w)).to(pre.dtype)
        f_post = patches.weight_matrix(self.f_post(w)).to(pre.dtype)
        return (f_post * torch.einsum("bil,bol->boi", tr_pre, post)
                - f_pre * torch.einsum("bol,bil->boi", tr_post, pre))

    def _recorded_steps(self):
        """Pop the recorded (pre, post) pairs, one per time step, oldest first."""
        ins, outs = self.in_spike_monitor.records, self.out_spike_monitor.records
        if len(ins) != len(outs):
            raise RuntimeError(f"{type(self).__name__}: {len(ins)} synapse inputs but {len(outs)} neuron outputs were "
                               "recorded; the synapse and the neuron must run equally often")
        pairs = list(zip(ins, outs))
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()
        for s_pre, s_post in pairs:
            if self.step_mode == "m":
                yield from zip(s_pre, s_post)
            else:
                yield s_pre, s_post

    def _apply(self, delta_w: torch.Tensor | None, on_grad: bool) -> torch.Tensor | None:
        if delta_w is None:
            return None
        delta_w = delta_w.view_as(self.synapse.weight).to(self.synapse.weight.dtype)
        if not on_grad:
            return delta_w
        w = self.synapse.weight
        w.grad = -delta_w if w.grad is None else w.grad - delta_w
        return None


class STDPLearner(_TraceLearner):
    """Trace STDP for a ``Linear``/``Conv1d``/``Conv2d`` synapse followed by a spiking neuron (SpikingJelly API).

    Args:
        step_mode: the step mode the synapse and neuron run in (``'m'``: records are ``[T, N, *]``).
        synapse: the layer whose ``weight`` learns.
        sn: the neuron after it.
        tau_pre, tau_post: trace time constants in steps (> 1); traces decay by ``1 − 1/τ`` per step.
        f_pre, f_post: weight dependence of depression / potentiation (default identity).
    """

    def step(self, on_grad: bool = True, scale: float = 1.0) -> torch.Tensor | None:
        """Consume the recorded steps and compute ``ΔW`` (summed over steps and samples, times ``scale``).

        With ``on_grad`` the update is written to ``synapse.weight.grad`` (``grad −= ΔW``) and ``None`` is returned;
        otherwise ``ΔW`` (shaped like the weight) is returned. ``None`` when nothing was recorded.
        """
        delta_w = None
        with torch.no_grad():
            for s_pre, s_post in self._recorded_steps():
                dw = self._eligibility(s_pre, s_post).sum(0) * scale
                delta_w = dw if delta_w is None else delta_w + dw
        return self._apply(delta_w, on_grad)


def _reward_vector(owner: str, reward: float | torch.Tensor, batch: int, like: torch.Tensor) -> torch.Tensor:
    r = torch.as_tensor(reward, dtype=like.dtype, device=like.device)
    if r.dim() == 0:
        return r.expand(batch)
    if r.shape != (batch,):
        raise ValueError(f"{owner}: reward must be a scalar or [{batch}] (one per sample), got {tuple(r.shape)}")
    return r


class MSTDPLearner(_TraceLearner):
    """Reward-modulated STDP (MSTDP, Florian 2007): ``ΔW = Σ_samples reward · eligibility`` at every step.

    Args: as :class:`STDPLearner` except that traces decay by ``e^(−1/τ)`` (τ > 0). ``batch_size`` is accepted for
    SpikingJelly compatibility and checked against the recorded batch.
    """

    exponential_decay = True

    def __init__(self, step_mode: str, batch_size: int | None, synapse: nn.Module, sn: nn.Module, tau_pre: float,
                 tau_post: float, f_pre: WeightFn = _identity, f_post: WeightFn = _identity) -> None:
        super().__init__(step_mode, synapse, sn, tau_pre, tau_post, f_pre, f_post)
        self.batch_size = batch_size

    def _modulated(self, e: torch.Tensor, reward: float | torch.Tensor) -> torch.Tensor:
        owner = type(self).__name__
        if self.batch_size is not None and e.shape[0] != self.batch_size:
            raise ValueError(f"{owner}: batch_size={self.batch_size} but a batch of {e.shape[0]} was recorded")
        return torch.einsum("b,boi->oi", _reward_vector(owner, reward, e.shape[0], e), e)

    def step(self, reward: float | torch.Tensor, on_grad: bool = True, scale: float = 1.0) -> torch.Tensor | None:
        """Consume the recorded steps; ``reward`` is a scalar or one value per sample ``[B]``. See
        :meth:`STDPLearner.step` for ``on_grad``/``scale`` and the return value."""
        delta_w = None
        with torch.no_grad():
            for s_pre, s_post in self._recorded_steps():
                dw = self._modulated(self._step_trace(self._eligibility(s_pre, s_post)), reward) * scale
                delta_w = dw if delta_w is None else delta_w + dw
        return self._apply(delta_w, on_grad)

    def _step_trace(self, e: torch.Tensor) -> torch.Tensor:
        return e


class MSTDPETLearner(MSTDPLearner):
    """MSTDP with an eligibility trace (MSTDPET, Florian 2007): ``z ← z·e^(−1/τ_z) + e/τ_z``; ``ΔW = Σ reward·z``.

    Args: as :class:`MSTDPLearner` plus ``tau_trace`` (τ_z > 0), the eligibility-trace time constant.
    """

    def __init__(self, step_mode: str, batch_size: int | None, synapse: nn.Module, sn: nn.Module, tau_pre: float,
                 tau_post: float, tau_trace: float, f_pre: WeightFn = _identity, f_post: WeightFn = _identity) -> None:
        super().__init__(step_mode, batch_size, synapse, sn, tau_pre, tau_post, f_pre, f_post)
        if not float(tau_trace) > 0:
            raise ValueError(f"MSTDPETLearner: tau_trace must be > 0, got {tau_trace}")
        self.tau_trace = float(tau_trace)
        self.trace_e: torch.Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self.trace_e = None

    def _step_trace(self, e: torch.Tensor) -> torch.Tensor:
        z = e / self.tau_trace
        self.trace_e = z if self.trace_e is None else self.trace_e * math.exp(-1.0 / self.tau_trace) + z
        return self.trace_e
