"""Stateless trace-STDP steps (SpikingJelly's ``functional`` learning rules); the learners of :mod:`sj.learning` run
these.

Pair-based STDP with traces. Each step first advances the traces with the step's spikes,
``tr ← tr − tr/τ + s`` (STDP, τ ≥ 1) or ``tr ← tr·e^(−1/τ) + s`` (reward-modulated rules, τ > 0), then the eligibility
of synapse (o, i) is

    e[o, i] = f_post(w[o, i]) · tr_pre[i] · s_post[o]  −  f_pre(w[o, i]) · tr_post[o] · s_pre[i]

summed over the output positions of a convolution. ``f_pre``/``f_post`` (applied elementwise to the whole weight)
default to the identity, i.e. the update is proportional to the weight. A trace passed as ``None`` starts at zero.
Convolution inputs must already be padded (the layer's padding is not applied here).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch

from sj.functional import synapse_patches as sp

WeightFn = Callable[[torch.Tensor], torch.Tensor]
Traces = tuple[torch.Tensor | None, torch.Tensor | None]


def _identity(w: torch.Tensor) -> torch.Tensor:
    return w


def check_time_constant(owner: str, name: str, tau: float, exponential: bool) -> float:
    """``tau`` as a float, or ``ValueError``: finite and ≥ 1 step (STDP's ``1 − 1/τ`` decay must not be negative) or,
    for ``e^(−1/τ)`` decay (``exponential``), > 0."""
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not math.isfinite(tau) or (
            tau <= 0 if exponential else tau < 1):
        raise ValueError(f"{owner}: {name} must be a finite number {'> 0' if exponential else '>= 1'} (time steps), "
                         f"got {tau!r}")
    return float(tau)


def _advance(trace: torch.Tensor | None, spike: torch.Tensor, tau: float, exponential: bool) -> torch.Tensor:
    if trace is None:
        trace = torch.zeros_like(spike)
    return trace * math.exp(-1.0 / tau) + spike if exponential else trace - trace / tau + spike


def _check_inputs(owner: str, in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces, weight: torch.Tensor,
                  spatial: int) -> None:
    """Shapes of batched spikes ``[N, C, *spatial]`` against ``weight`` ``[O, I]`` or ``[O, C, *kernel]``."""
    ndim = 2 + spatial
    if in_spike.dim() != ndim or out_spike.dim() != ndim:
        raise ValueError(f"{owner}: in_spike and out_spike must both be {ndim}-D [N, C{', ...' if spatial else ''}], "
                         f"got {tuple(in_spike.shape)} and {tuple(out_spike.shape)}")
    if weight.dim() != (2 if spatial == 0 else ndim):
        raise ValueError(f"{owner}: weight of shape {tuple(weight.shape)} does not fit {ndim}-D spikes")
    if (in_spike.shape[1] != weight.shape[1] or out_spike.shape[1] != weight.shape[0]
            or in_spike.shape[0] != out_spike.shape[0]):
        raise ValueError(f"{owner}: spikes {tuple(in_spike.shape)} → {tuple(out_spike.shape)} do not match the weight "
                         f"{tuple(weight.shape)} or each other's batch size")
    for name, spike, state in zip(("pre", "post"), (in_spike, out_spike), trace):
        if state is not None and state.shape != spike.shape:
            raise ValueError(f"{owner}: the {name} trace {tuple(state.shape)} differs from the spikes "
                             f"{tuple(spike.shape)}; reset the traces before changing the batch size")
        if spike.device != weight.device or (state is not None and state.device != weight.device):
            raise ValueError(f"{owner}: spikes, traces and weight must be on one device")


def _rule(in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces, weight: torch.Tensor, *, tau_pre: float,
          tau_post: float, f_pre: WeightFn, f_post: WeightFn, exponential: bool, per_sample: bool,
          stride: tuple[int, ...] = (), dilation: tuple[int, ...] = ()) -> tuple[torch.Tensor, Traces]:
    """Advance both traces and return the eligibility: summed ``weight``-shaped, or ``[N, *weight.shape]``."""
    tr_pre = _advance(trace[0], in_spike, tau_pre, exponential)
    tr_post = _advance(trace[1], out_spike, tau_post, exponential)
    kernel = tuple(weight.shape[2:])
    pre, pre_tr = (sp.patches(t, kernel, stride, dilation) for t in (in_spike, tr_pre))
    post, post_tr = sp.positions(out_spike), sp.positions(tr_post)
    out = "boi" if per_sample else "oi"
    potentiation = torch.einsum(f"bil,bol->{out}", pre_tr, post)
    depression = torch.einsum(f"bol,bil->{out}", post_tr, pre)
    e = sp.weight_matrix(f_post(weight)) * potentiation - sp.weight_matrix(f_pre(weight)) * depression
    return e.reshape(*e.shape[:-2], *weight.shape), (tr_pre, tr_post)


def _conv_geometry(owner: str, in_spike: torch.Tensor, out_spike: torch.Tensor, weight: torch.Tensor, stride,
                   dilation) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n = weight.dim() - 2

    def as_tuple(name: str, v) -> tuple[int, ...]:
        t = (v,) * n if isinstance(v, int) else tuple(v)
        if len(t) != n or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in t):
            raise ValueError(f"{owner}: {name} must be {n} positive integer(s), got {v!r}")
        return t

    stride, dilation = as_tuple("stride", stride), as_tuple("dilation", dilation)
    expected = sp.output_size(tuple(in_spike.shape[2:]), tuple(weight.shape[2:]), stride, dilation)
    if tuple(out_spike.shape[2:]) != expected:
        raise ValueError(f"{owner}: output spatial shape {tuple(out_spike.shape[2:])} does not match the kernel "
                         f"{tuple(weight.shape[2:])}, stride {stride} and dilation {dilation} on input "
                         f"{tuple(in_spike.shape[2:])} (expected {expected}; pad the input first)")
    return stride, dilation


def stdp_linear_step(in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces, weight: torch.Tensor, *,
                     tau_pre: float, tau_post: float, f_pre: WeightFn = _identity,
                     f_post: WeightFn = _identity) -> tuple[torch.Tensor, Traces]:
    """One STDP step of a Linear synapse.

    Args:
        in_spike: presynaptic spikes ``[N, I]``.
        out_spike: postsynaptic spikes ``[N, O]``.
        trace: ``(trace_pre [N, I], trace_post [N, O])`` (``None`` = zeros).
        weight: ``[O, I]``.
        tau_pre, tau_post: trace time constants in steps (≥ 1).
        f_pre, f_post: weight dependence of depression / potentiation.

    Returns:
        ``(ΔW [O, I] summed over the batch, (trace_pre, trace_post))``.
    """
    owner = "stdp_linear_step"
    tau_pre, tau_post = (check_time_constant(owner, n, t, False) for n, t in (("tau_pre", tau_pre),
                                                                               ("tau_post", tau_post)))
    _check_inputs(owner, in_spike, out_spike, trace, weight, 0)
    return _rule(in_spike, out_spike, trace, weight, tau_pre=tau_pre, tau_post=tau_post, f_pre=f_pre, f_post=f_post,
                 exponential=False, per_sample=False)


def _conv_step(owner: str, spatial: int, in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces,
               weight: torch.Tensor, stride, dilation, tau_pre: float, tau_post: float, f_pre: WeightFn,
               f_post: WeightFn) -> tuple[torch.Tensor, Traces]:
    tau_pre, tau_post = (check_time_constant(owner, n, t, False) for n, t in (("tau_pre", tau_pre),
                                                                               ("tau_post", tau_post)))
    _check_inputs(owner, in_spike, out_spike, trace, weight, spatial)
    stride, dilation = _conv_geometry(owner, in_spike, out_spike, weight, stride, dilation)
    return _rule(in_spike, out_spike, trace, weight, tau_pre=tau_pre, tau_post=tau_post, f_pre=f_pre, f_post=f_post,
                 exponential=False, per_sample=False, stride=stride, dilation=dilation)


def stdp_conv1d_step(in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces, weight: torch.Tensor, *,
                     stride: int | tuple[int], tau_pre: float, tau_post: float, f_pre: WeightFn = _identity,
                     f_post: WeightFn = _identity, dilation: int | tuple[int] = 1) -> tuple[torch.Tensor, Traces]:
    """One STDP step of a Conv1d synapse (groups = 1) on padded input ``[N, C, L]`` → output spikes ``[N, O, L']``;
    ``weight`` ``[O, C, K]``. ``dilation`` is an sj extension. Returns ``(ΔW like weight, (trace_pre,
    trace_post))``; see :func:`stdp_linear_step`."""
    return _conv_step("stdp_conv1d_step", 1, in_spike, out_spike, trace, weight, stride, dilation, tau_pre, tau_post,
                      f_pre, f_post)


def stdp_conv2d_step(in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces, weight: torch.Tensor, *,
                     stride: int | tuple[int, int], tau_pre: float, tau_post: float, f_pre: WeightFn = _identity,
                     f_post: WeightFn = _identity,
                     dilation: int | tuple[int, int] = 1) -> tuple[torch.Tensor, Traces]:
    """One STDP step of a Conv2d synapse (groups = 1) on padded input ``[N, C, H, W]`` → output spikes
    ``[N, O, H', W']``; ``weight`` ``[O, C, KH, KW]``. ``dilation`` is an sj extension. Returns ``(ΔW like weight,
    (trace_pre, trace_post))``; see :func:`stdp_linear_step`."""
    return _conv_step("stdp_conv2d_step", 2, in_spike, out_spike, trace, weight, stride, dilation, tau_pre, tau_post,
                      f_pre, f_post)


def reward_eligibility_step(owner: str, in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces,
                            weight: torch.Tensor, tau_pre: float, tau_post: float, f_pre: WeightFn, f_post: WeightFn,
                            stride: tuple[int, ...] = (), dilation: tuple[int, ...] = ()
                            ) -> tuple[torch.Tensor, Traces]:
    """Per-sample eligibility ``[N, *weight.shape]`` of batched spikes with ``e^(−1/τ)`` traces (the reward rules)."""
    tau_pre, tau_post = (check_time_constant(owner, n, t, True) for n, t in (("tau_pre", tau_pre),
                                                                              ("tau_post", tau_post)))
    spatial = weight.dim() - 2
    _check_inputs(owner, in_spike, out_spike, trace, weight, spatial)
    if spatial:
        stride, dilation = _conv_geometry(owner, in_spike, out_spike, weight, stride or 1, dilation or 1)
    return _rule(in_spike, out_spike, trace, weight, tau_pre=tau_pre, tau_post=tau_post, f_pre=f_pre, f_post=f_post,
                 exponential=True, per_sample=True, stride=stride, dilation=dilation)


def mstdp_linear_step(in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces, weight: torch.Tensor, *,
                      tau_pre: float, tau_post: float, f_pre: WeightFn = _identity,
                      f_post: WeightFn = _identity) -> tuple[torch.Tensor, Traces]:
    """One MSTDP eligibility step (Florian 2007) of a Linear synapse: traces decay by ``e^(−1/τ)`` (τ > 0).

    Args: as :func:`stdp_linear_step` (``in_spike [N, I]``, ``out_spike [N, O]``).

    Returns:
        ``(eligibility [N, O, I] per sample, (trace_pre, trace_post))``; the reward multiplies it
        (:class:`sj.learning.MSTDPLearner`).
    """
    return reward_eligibility_step("mstdp_linear_step", in_spike, out_spike, trace, weight, tau_pre, tau_post, f_pre,
                                   f_post)


def mstdpet_linear_step(in_spike: torch.Tensor, out_spike: torch.Tensor, trace: Traces, weight: torch.Tensor, *,
                        tau_pre: float, tau_post: float, f_pre: WeightFn = _identity,
                        f_post: WeightFn = _identity) -> tuple[torch.Tensor, Traces]:
    """One MSTDPET eligibility step of one unbatched Linear synapse (SpikingJelly's layout).

    Args: ``in_spike [I]``, ``out_spike [O]``, ``trace`` ``([I], [O])``, ``weight [O, I]``; τ > 0.

    Returns:
        ``(eligibility [O, I], (trace_pre, trace_post))``; feed it to :func:`mstdpet_reward_step`.
    """
    owner = "mstdpet_linear_step"
    if in_spike.dim() != 1 or out_spike.dim() != 1:
        raise ValueError(f"{owner}: in_spike and out_spike must be unbatched [I] and [O], got "
                         f"{tuple(in_spike.shape)} and {tuple(out_spike.shape)} (batched spikes: mstdp_linear_step)")
    batched = tuple(None if t is None else t.unsqueeze(0) for t in trace)
    e, (tr_pre, tr_post) = reward_eligibility_step(owner, in_spike.unsqueeze(0), out_spike.unsqueeze(0), batched,
                                                   weight, tau_pre, tau_post, f_pre, f_post)
    return e[0], (tr_pre[0], tr_post[0])


def mstdpet_reward_step(reward: torch.Tensor | float, eligibility: torch.Tensor, trace_e: torch.Tensor | None, *,
                        tau_trace: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Advance the eligibility trace ``z ← z·e^(−1/τ_z) + e/τ_z`` and return ``(reward·z, z)`` (``None`` = zeros)."""
    tau_trace = check_time_constant("mstdpet_reward_step", "tau_trace", tau_trace, True)
    if trace_e is None:
        trace_e = torch.zeros_like(eligibility)
    trace_e = trace_e * math.exp(-1.0 / tau_trace) + eligibility / tau_trace
    return reward * trace_e, trace_e
