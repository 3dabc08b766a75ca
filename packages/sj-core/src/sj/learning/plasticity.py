"""Trace STDP and reward-modulated STDP learners (SpikingJelly-compatible modules).

A learner hooks a synapse (its input = presynaptic spikes) and the neuron after it (its output = postsynaptic spikes),
records detached copies only (never an autograd graph), and turns the recorded steps into ``ΔW`` in :meth:`step`
with the rules of :mod:`sj.functional.plasticity`. Its traces are memories (``reset`` clears them, and
``functional.reset_net`` resets a learner inside a network). With ``on_grad=True`` (default) ``step`` writes
``weight.grad −= ΔW`` so any torch optimizer applies ``W += lr·ΔW`` (SGD). ``close()`` releases the hooks for good.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sj.base import MemoryModule
from sj.functional import plasticity as rules
from sj.monitor import InputMonitor, OutputMonitor

WeightFn = rules.WeightFn
_identity = rules._identity
_SYNAPSES = (nn.Linear, nn.Conv1d, nn.Conv2d)


class _TimeConstant:
    """A time constant checked whenever it is set (``ValueError`` for NaN, inf, or out of range)."""

    def __init__(self, exponential: bool) -> None:
        self.exponential = exponential

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.name] = rules.check_time_constant(type(obj).__name__, self.name, value, self.exponential)


class _WeightFunction:
    """``f_pre``/``f_post``: must be callable (checked on every set)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value) -> None:
        if not callable(value):
            raise TypeError(f"{type(obj).__name__}: {self.name} must be callable (weight → weight), got {value!r}")
        obj.__dict__[self.name] = value


def _finite_number(owner: str, name: str, value) -> None:
    bad = (not bool(torch.isfinite(value).all())) if isinstance(value, torch.Tensor) else (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value))
    if bad:
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")


class _Learner(MemoryModule):
    """What every learner shares: checks, hooks, records, traces, ``close``."""

    tau_pre = _TimeConstant(False)
    tau_post = _TimeConstant(False)
    f_pre = _WeightFunction()
    f_post = _WeightFunction()

    def __init__(self, step_mode: str, synapse: nn.Module, sn: nn.Module, tau_pre: float, tau_post: float,
                 f_pre: WeightFn, f_post: WeightFn) -> None:
        owner = type(self).__name__
        if not isinstance(synapse, _SYNAPSES):
            raise TypeError(f"{owner}: synapse must be a Linear, Conv1d or Conv2d (sj wrappers included), got "
                            f"{type(synapse).__name__}")
        if isinstance(synapse, (nn.Conv1d, nn.Conv2d)) and (synapse.groups != 1 or isinstance(synapse.padding, str)):
            raise ValueError(f"{owner}: only groups=1 and numeric padding are supported, got groups={synapse.groups}, "
                             f"padding={synapse.padding!r}")
        if not isinstance(sn, nn.Module):
            raise TypeError(f"{owner}: sn must be the postsynaptic neuron module, got {type(sn).__name__}")
        super().__init__(step_mode)
        self.tau_pre, self.tau_post = tau_pre, tau_post
        self.f_pre, self.f_post = f_pre, f_post
        self.synapse = synapse
        self.in_spike_monitor = InputMonitor(synapse, type(synapse))
        self.out_spike_monitor = OutputMonitor(sn, type(sn))
        self.register_memory("trace_pre", None)
        self.register_memory("trace_post", None)
        self._closed = False

    def reset(self) -> None:
        """Clear the traces and the recorded spikes."""
        super().reset()
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()

    def enable(self) -> None:
        """Resume recording spikes."""
        self._check_open()
        self.in_spike_monitor.enable()
        self.out_spike_monitor.enable()

    def disable(self) -> None:
        """Pause recording spikes (e.g. during evaluation)."""
        self.in_spike_monitor.disable()
        self.out_spike_monitor.disable()

    def close(self) -> None:
        """Release the hooks on the synapse and the neuron and reset; the learner cannot record or step again."""
        self.in_spike_monitor.remove_hooks()
        self.out_spike_monitor.remove_hooks()
        self.reset()
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed; create a new learner to resume")

    def _take_records(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The recorded (pre, post) pairs, oldest first; the records are emptied."""
        self._check_open()
        ins, outs = self.in_spike_monitor.records, self.out_spike_monitor.records
        if len(ins) != len(outs):
            raise RuntimeError(f"{type(self).__name__}: {len(ins)} synapse inputs but {len(outs)} neuron outputs were "
                               "recorded; the synapse and the neuron must run equally often")
        pairs = list(zip(ins, outs))
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()
        return pairs

    def _batched(self, pre: torch.Tensor, post: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Add a batch dimension to unbatched spikes (``[I]`` for Linear, ``[C, *]`` for a convolution)."""
        ndim = 2 if isinstance(self.synapse, nn.Linear) else self.synapse.weight.dim()
        if pre.dim() == ndim - 1 and post.dim() == ndim - 1:
            return pre.unsqueeze(0), post.unsqueeze(0), False
        if pre.dim() != ndim or post.dim() != ndim:
            raise ValueError(f"{type(self).__name__}: spikes {tuple(pre.shape)} → {tuple(post.shape)} do not fit a "
                             f"{type(self.synapse).__name__} ({ndim}-D batched or {ndim - 1}-D unbatched; in "
                             f"step_mode='m' records are [T, ...])")
        return pre, post, True

    def _traces(self, batched: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The stored traces in the batched layout the rules take (they are stored in the spikes' own layout)."""
        return tuple(t if t is None or batched else t.unsqueeze(0) for t in (self.trace_pre, self.trace_post))

    def _store_traces(self, traces: tuple[torch.Tensor, torch.Tensor], batched: bool) -> None:
        self.trace_pre, self.trace_post = (t if batched else t[0] for t in traces)

    def _padded(self, pre: torch.Tensor) -> torch.Tensor:
        syn = self.synapse
        if isinstance(syn, nn.Linear) or not any(syn._reversed_padding_repeated_twice):
            return pre
        mode = "constant" if syn.padding_mode == "zeros" else syn.padding_mode
        return F.pad(pre, syn._reversed_padding_repeated_twice, mode=mode)

    def _geometry(self) -> dict:
        syn = self.synapse
        return {} if isinstance(syn, nn.Linear) else {"stride": syn.stride, "dilation": syn.dilation}

    def _apply_update(self, delta_w: torch.Tensor, on_grad: bool) -> torch.Tensor | None:
        delta_w = delta_w.to(self.synapse.weight.dtype)
        if not on_grad:
            return delta_w
        w = self.synapse.weight
        w.grad = -delta_w if w.grad is None else w.grad - delta_w
        return None


class STDPLearner(_Learner):
    """Trace STDP for a ``Linear``/``Conv1d``/``Conv2d`` synapse followed by a spiking neuron (SpikingJelly API).

    Args:
        step_mode: the step mode the synapse and neuron run in (``'m'``: records are ``[T, N, *]``).
        synapse: the layer whose ``weight`` learns (convolutions: groups = 1; any padding mode; dilation too).
        sn: the neuron after it.
        tau_pre, tau_post: trace time constants in steps (≥ 1); traces decay as ``tr − tr/τ``.
        f_pre, f_post: weight dependence of depression / potentiation (default identity).

    Unbatched spikes (``[I]`` for a Linear) are accepted as a batch of one.
    """

    def __init__(self, step_mode: str, synapse: nn.Module, sn: nn.Module, tau_pre: float, tau_post: float,
                 f_pre: WeightFn = _identity, f_post: WeightFn = _identity) -> None:
        super().__init__(step_mode, synapse, sn, tau_pre, tau_post, f_pre, f_post)

    def _single_step(self, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
        pre, post, batched = self._batched(pre, post)
        pre = self._padded(pre)
        w = self.synapse.weight.detach()
        kw = dict(tau_pre=self.tau_pre, tau_post=self.tau_post, f_pre=self.f_pre, f_post=self.f_post)
        trace = self._traces(batched)
        if isinstance(self.synapse, nn.Linear):
            dw, trace = rules.stdp_linear_step(pre, post, trace, w, **kw)
        else:
            step = rules.stdp_conv1d_step if isinstance(self.synapse, nn.Conv1d) else rules.stdp_conv2d_step
            dw, trace = step(pre, post, trace, w, **self._geometry(), **kw)
        self._store_traces(trace, batched)
        return dw

    @torch.no_grad()
    def step(self, on_grad: bool = True, scale: float = 1.0) -> torch.Tensor | None:
        """Consume the recorded steps and compute ``ΔW`` (summed over steps and samples, times ``scale``).

        With ``on_grad`` the update is written to ``synapse.weight.grad`` (``grad −= ΔW``) and ``None`` is returned;
        otherwise ``ΔW`` (shaped like the weight) is returned. ``None`` when nothing was recorded.
        """
        _finite_number(type(self).__name__, "scale", scale)
        delta_w = None
        for pre, post in self._take_records():
            steps = zip(pre, post) if self.step_mode == "m" else ((pre, post),)
            dw = sum((self._single_step(p, q) for p, q in steps), torch.zeros_like(self.synapse.weight)) * scale
            delta_w = dw if delta_w is None else delta_w + dw
        return None if delta_w is None else self._apply_update(delta_w, on_grad)


class _RewardLearner(_Learner):
    """Reward-modulated rules: single-step, one (pre, post) pair per :meth:`step`, and the reward of step t
    modulates the eligibility of step t − 1 (SpikingJelly's timing: the reward follows the activity it judges)."""

    tau_pre = _TimeConstant(True)
    tau_post = _TimeConstant(True)

    def supported_step_modes(self) -> tuple[str, ...]:
        return ("s",)

    def __init__(self, step_mode: str, synapse: nn.Module, sn: nn.Module, tau_pre: float, tau_post: float,
                 f_pre: WeightFn, f_post: WeightFn) -> None:
        super().__init__(step_mode, synapse, sn, tau_pre, tau_post, f_pre, f_post)
        self.register_memory("eligibility", None)

    def _eligibility(self) -> tuple[torch.Tensor, bool] | None:
        """This step's eligibility (``[N, *weight.shape]``, or ``weight``-shaped for unbatched spikes) and whether the
        spikes were batched; ``None`` when nothing was recorded. The traces advance; ``eligibility`` is not stored."""
        pairs = self._take_records()
        if not pairs:
            return None
        if len(pairs) != 1:
            raise RuntimeError(f"{type(self).__name__}: {len(pairs)} steps were recorded; reward learners take exactly "
                               "one (pre, post) pair per step() (call step after every time step)")
        pre, post, batched = self._batched(*pairs[0])
        pre = self._padded(pre)
        geometry = self._geometry()
        e, traces = rules.reward_eligibility_step(
            type(self).__name__, pre, post, self._traces(batched), self.synapse.weight.detach(), self.tau_pre,
            self.tau_post, self.f_pre, self.f_post, geometry.get("stride", ()), geometry.get("dilation", ()))
        self._store_traces(traces, batched)
        if not batched:
            e = e[0]
        if self.eligibility is not None and self.eligibility.shape != e.shape:
            raise ValueError(f"{type(self).__name__}: the eligibility {tuple(e.shape)} differs from the stored "
                             f"{tuple(self.eligibility.shape)}; reset the learner before changing the batch size")
        return e, batched

    def _reward(self, reward: float | torch.Tensor, e: torch.Tensor, batched: bool) -> torch.Tensor:
        """``reward`` as a tensor broadcastable against ``e``: a scalar, or one value per sample ``[N]``."""
        owner = type(self).__name__
        w = self.synapse.weight
        r = torch.as_tensor(reward, dtype=w.dtype, device=w.device).detach()
        _finite_number(owner, "reward", r)
        if r.dim() == 0:
            return r
        if not batched or r.shape != e.shape[:1]:
            raise ValueError(f"{owner}: reward must be a scalar or one value per sample "
                             f"{list(e.shape[:1]) if batched else '(unbatched: a scalar)'}, got {tuple(r.shape)}")
        return r.view(-1, *([1] * (e.dim() - 1)))


class MSTDPLearner(_RewardLearner):
    """Reward-modulated STDP (MSTDP, Florian 2007) for a Linear (or Conv1d/Conv2d) synapse, single-step.

    Each :meth:`step` advances the traces (``e^(−1/τ)`` decay, τ > 0) with the pair recorded since the previous call,
    applies ``ΔW = scale · Σ_samples reward · eligibility(t − 1)`` and stores ``eligibility(t)``: the reward given at
    step t judges the activity of step t − 1 (the first call gives ``ΔW = 0``).

    Args: as :class:`STDPLearner`; ``step_mode`` must be ``'s'``.
    """

    def __init__(self, step_mode: str, synapse: nn.Module, sn: nn.Module, tau_pre: float, tau_post: float,
                 f_pre: WeightFn = _identity, f_post: WeightFn = _identity) -> None:
        super().__init__(step_mode, synapse, sn, tau_pre, tau_post, f_pre, f_post)

    @torch.no_grad()
    def step(self, reward: float | torch.Tensor, on_grad: bool = True, scale: float = 1.0) -> torch.Tensor | None:
        """``reward``: a scalar or one value per sample ``[N]``. See :meth:`STDPLearner.step` for ``on_grad``/``scale``
        and the return value."""
        _finite_number(type(self).__name__, "scale", scale)
        found = self._eligibility()
        if found is None:
            return None
        e, batched = found
        r = self._reward(reward, e, batched)
        previous = torch.zeros_like(e) if self.eligibility is None else self.eligibility
        delta_w = r * previous
        if batched:
            delta_w = delta_w.sum(0)
        self.eligibility = e
        return self._apply_update(delta_w * scale, on_grad)


class MSTDPETLearner(_RewardLearner):
    """MSTDP with an eligibility trace (MSTDPET, Florian 2007), single-step.

    Each :meth:`step` advances the traces with the recorded pair, then the eligibility trace with the previous step's
    eligibility, ``z ← z·e^(−1/τ_z) + eligibility(t − 1)/τ_z``, and applies ``ΔW = scale · Σ_samples reward · z``.
    SpikingJelly takes unbatched spikes (``[I]`` → ``[O]``) and a scalar reward; batched spikes (one ``z`` per
    sample, reward scalar or ``[N]``) are an sj extension.

    Args: as :class:`MSTDPLearner` plus ``tau_trace`` (τ_z > 0), the eligibility-trace time constant.
    """

    tau_trace = _TimeConstant(True)

    def __init__(self, step_mode: str, synapse: nn.Module, sn: nn.Module, tau_pre: float, tau_post: float,
                 tau_trace: float, f_pre: WeightFn = _identity, f_post: WeightFn = _identity) -> None:
        super().__init__(step_mode, synapse, sn, tau_pre, tau_post, f_pre, f_post)
        self.tau_trace = tau_trace
        self.register_memory("trace_e", None)

    @torch.no_grad()
    def step(self, reward: float | torch.Tensor, on_grad: bool = True, scale: float = 1.0) -> torch.Tensor | None:
        """``reward``: a scalar (or ``[N]`` for batched spikes). See :meth:`STDPLearner.step` for
        ``on_grad``/``scale`` and the return value."""
        _finite_number(type(self).__name__, "scale", scale)
        found = self._eligibility()
        if found is None:
            return None
        e, batched = found
        r = self._reward(reward, e, batched)
        previous = torch.zeros_like(e) if self.eligibility is None else self.eligibility
        if self.trace_e is not None and self.trace_e.shape != e.shape:
            raise ValueError(f"{type(self).__name__}: the eligibility trace {tuple(self.trace_e.shape)} differs from "
                             f"{tuple(e.shape)}; reset the learner before changing the batch size")
        delta_w, self.trace_e = rules.mstdpet_reward_step(r, previous, self.trace_e, tau_trace=self.tau_trace)
        if batched:
            delta_w = delta_w.sum(0)
        self.eligibility = e
        return self._apply_update(delta_w * scale, on_grad)
