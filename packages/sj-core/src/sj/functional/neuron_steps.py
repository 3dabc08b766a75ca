"""SpikingJelly 2.0's per-neuron functional API: one step (``*_step``) or a sequence (``*_multi_step``) of a neuron
with explicit state, as pure functions (no module, no memory; the caller passes and receives the states).

The ``*_step`` functions are torch formulas, differentiable through ``surrogate_function`` (any callable mapping
``h − v_threshold`` to a spike). A ``*_multi_step`` function of a declared neuron (``if``, ``lif``, ``plif``,
``qif``, ``eif``, ``izhikevich``) runs the fused multi-step op (keyword ``backend``, default ``'torch'``) when the
surrogate is an :class:`sj.surrogate.SurrogateFunction`, and loops its ``*_step`` otherwise. Shapes: a step takes
``x`` ``[N, *]`` and states of that shape; a sequence ``x_seq`` ``[T, N, *]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from sj.surrogate import Sigmoid, SurrogateFunction
from sj.surrogate.python_surrogates import _MultiLevelSpikeCount

Tensor = torch.Tensor
Spike = Callable[[Tensor], Tensor]
_MULTI_LEVEL_DEFAULT = (4, 0.0, 4.0)  # SpikingJelly's MultiLevelSpikeCount(4): count, gradient window [low, high]

__all__ = ["activation_aware_if_multi_step", "activation_aware_if_step", "clif_step", "cuba_lif_step", "eif_multi_step",
           "eif_step", "gated_lif_step", "if_multi_step", "if_step", "ilif_multi_step", "ilif_step",
           "izhikevich_multi_step", "izhikevich_step", "klif_step", "liaf_step", "lif_charge", "lif_multi_step",
           "lif_step", "masked_psn_step", "neuron_implementation", "plif_multi_step",
           "plif_step", "qif_multi_step", "qif_step", "raf_step", "sliding_psn_step", "stbif_multi_step", "stbif_step",
           "ternary_if_step", "ternary_lif_step", "voltage_reset"]


# --------------------------------------------------------------------------------------------------- building blocks
def voltage_reset(v: Tensor, spike: Tensor, v_threshold: float | Tensor, v_reset: float | Tensor | None,
                  detach_reset: bool) -> Tensor:
    """The membrane after ``spike``: ``spike·v_reset + (1 − spike)·v`` (hard), or ``v − spike·v_threshold``
    (soft, ``v_reset is None``); ``detach_reset`` detaches the spike here."""
    if detach_reset:
        spike = spike.detach()
    if v_reset is None:
        return v - spike * v_threshold
    return spike * v_reset + (1.0 - spike) * v


def lif_charge(x: Tensor, v: Tensor, tau: float | Tensor, decay_input: bool, v_reset: float | Tensor | None
               ) -> Tensor:
    """LIF charge H: ``v + (x − (v − v_reset))/tau`` (``decay_input``) or ``v − (v − v_reset)/tau + x``;
    V_reset counts as 0 in soft reset (``None``)."""
    rest = 0.0 if v_reset is None else v_reset
    if decay_input:
        return v + (x - (v - rest)) / tau
    return v - (v - rest) / tau + x


def _fire_reset(h: Tensor, v_threshold, v_reset, surrogate_function: Spike, detach_reset: bool
                ) -> tuple[Tensor, Tensor]:
    spike = surrogate_function(h - v_threshold)
    return spike, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)


def multi_level_spike_count(x: Tensor, max_spike_count: int = 4, grad_window: tuple[float, float] | None = None
                            ) -> Tensor:
    """I-LIF's spike count: ``round(clamp(x, 0, max_spike_count))``, with gradient 1 inside ``grad_window``
    (default ``[0, max_spike_count]``) and 0 outside (straight-through)."""
    low, high = (0.0, float(max_spike_count)) if grad_window is None else grad_window
    return _MultiLevelSpikeCount.apply(x, float(max_spike_count), float(low), float(high))


def _spike_count_fn(surrogate_function) -> Spike:
    """I-LIF's spike function: ``None`` → the default count (4); an object with SpikingJelly's
    ``MultiLevelSpikeCount`` attributes → that count and window; any other callable as is."""
    if surrogate_function is None:
        count, low, high = _MULTI_LEVEL_DEFAULT
        return lambda z: multi_level_spike_count(z, count, (low, high))
    if all(hasattr(surrogate_function, a) for a in ("max_spike_count", "grad_min", "grad_max")):
        sg = surrogate_function
        return lambda z: multi_level_spike_count(z, sg.max_spike_count, (sg.grad_min, sg.grad_max))
    return surrogate_function


# ------------------------------------------------------------------------------------------------------ one step
def if_step(x: Tensor, v: Tensor, v_threshold: float, v_reset: float | None, surrogate_function: Spike,
            detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Integrate-and-fire: H = V + X. Returns ``(spike, v)``."""
    return _fire_reset(v + x, v_threshold, v_reset, surrogate_function, detach_reset)


def lif_step(x: Tensor, v: Tensor, tau: float, decay_input: bool, v_threshold: float, v_reset: float | None,
             surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Leaky integrate-and-fire (:func:`lif_charge`). Returns ``(spike, v)``."""
    return _fire_reset(lif_charge(x, v, tau, decay_input, v_reset), v_threshold, v_reset, surrogate_function,
                       detach_reset)


def plif_step(x: Tensor, v: Tensor, w: Tensor, decay_input: bool, v_threshold: float, v_reset: float | None,
              surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Parametric LIF: the LIF charge with 1/τ = σ(w). Returns ``(spike, v)``."""
    return _fire_reset(_plif_charge(x, v, w, decay_input, v_reset), v_threshold, v_reset, surrogate_function,
                       detach_reset)


def _plif_charge(x: Tensor, v: Tensor, w: Tensor, decay_input: bool, v_reset) -> Tensor:
    rest = 0.0 if v_reset is None else v_reset
    q = w.sigmoid()
    return v + (x - (v - rest)) * q if decay_input else v - (v - rest) * q + x


def qif_step(x: Tensor, v: Tensor, tau: float, a0: float, v_rest: float, v_c: float, v_threshold: float,
             v_reset: float | None, surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Quadratic IF: H = V + (X + a0(V − V_rest)(V − V_c))/τ. Returns ``(spike, v)``."""
    h = v + (x + a0 * (v - v_rest) * (v - v_c)) / tau
    return _fire_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)


def eif_step(x: Tensor, v: Tensor, tau: float, delta_t: float, theta_rh: float, v_rest: float, v_threshold: float,
             v_reset: float | None, surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Exponential IF: H = V + (X + V_rest − V + Δ_T·exp((V − θ_rh)/Δ_T))/τ. Returns ``(spike, v)``."""
    h = v + (x + v_rest - v + delta_t * torch.exp((v - theta_rh) / delta_t)) / tau
    return _fire_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)


def izhikevich_step(x: Tensor, v: Tensor, w: Tensor, tau: float, a0: float, v_rest: float, v_c: float,
                    tau_w: float, a: float, b: float, v_threshold: float, v_reset: float | None,
                    surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Izhikevich: H = V + (X + a0(V − V_rest)(V − V_c) − W)/τ; W ← W + (a(H − V_rest) − W)/τ_w + b·S (the spike
    not detached here, as in SpikingJelly). Returns ``(spike, v, w)``."""
    h = v + (x + a0 * (v - v_rest) * (v - v_c) - w) / tau
    spike = surrogate_function(h - v_threshold)
    w = w + (a * (h - v_rest) - w) / tau_w + b * spike
    return spike, voltage_reset(h, spike, v_threshold, v_reset, detach_reset), w


def raf_step(x: Tensor, u: Tensor, v: Tensor, b: float, omega: float, dt: float, v_threshold: float,
             v_reset: float | None, surrogate_function: Spike, detach_reset: bool = False
             ) -> tuple[Tensor, Tensor, Tensor]:
    """Resonate-and-fire: (U, V) rotated by ω·dt, damped by e^{b·dt}, U fed by X; fires on the new V. Returns
    ``(spike, u, v)``."""
    decay = math.exp(b * dt)
    cos, sin = decay * math.cos(omega * dt), decay * math.sin(omega * dt)
    u_next = cos * u - sin * v + x
    spike, v_next = _fire_reset(sin * u + cos * v, v_threshold, v_reset, surrogate_function, detach_reset)
    return spike, u_next, v_next


def klif_step(x: Tensor, v: Tensor, k: Tensor, tau: float, decay_input: bool, scale_reset: bool, v_threshold: float,
              v_reset: float | None, surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """KLIF: H = ReLU(k·(LIF charge)); ``scale_reset`` resets H/k with threshold V_th/k. Returns ``(spike, v)``."""
    h = torch.relu(k * lif_charge(x, v, tau, decay_input, v_reset))
    spike = surrogate_function(h - v_threshold)
    if scale_reset:
        return spike, voltage_reset(h / k, spike, v_threshold / k, v_reset, detach_reset)
    return spike, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)


def cuba_lif_step(x: Tensor, current: Tensor, v: Tensor, current_decay: float, voltage_decay: float,
                  v_threshold: float, v_reset: float | None, surrogate_function: Spike, detach_reset: bool = False
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """Current-based LIF: C ← C·current_decay + X; H = V·voltage_decay + C. Returns ``(spike, current, v)``."""
    current = current * current_decay + x
    spike, v = _fire_reset(v * voltage_decay + current, v_threshold, v_reset, surrogate_function, detach_reset)
    return spike, current, v


def liaf_step(x: Tensor, v: Tensor, tau: float, decay_input: bool, v_threshold: float, v_reset: float | None,
              act: Callable[[Tensor], Tensor], threshold_related: bool, surrogate_function: Spike,
              detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """LIAF: LIF dynamics, output ``act(H)`` (``act(H − V_th)`` when ``threshold_related``). Returns
    ``(output, v)``."""
    h = lif_charge(x, v, tau, decay_input, v_reset)
    out = act(h - v_threshold if threshold_related else h)
    return out, _fire_reset(h, v_threshold, v_reset, surrogate_function, detach_reset)[1]


def ilif_step(x: Tensor, v: Tensor, tau: float, v_threshold: float, surrogate_function: Spike | None,
              detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """I-LIF (integer LIF): H = V − V/τ + X; the spike is a count ``f(H/V_th)`` (a multi-level spike count,
    see :func:`multi_level_spike_count`); V ← H − count·V_th. Returns ``(count, v)``."""
    h = lif_charge(x, v, tau, False, None)
    count = _spike_count_fn(surrogate_function)(h / v_threshold)
    return count, voltage_reset(h, count, v_threshold, None, detach_reset)


def _ternary(h: Tensor, v_threshold, v_reset, surrogate_function: Spike, detach_reset: bool
             ) -> tuple[Tensor, Tensor]:
    up, down = surrogate_function(h - v_threshold), surrogate_function(-h - v_threshold)
    spike = up - down
    # soft reset moves V by ∓V_th; hard reset sets V_reset after either spike
    return spike, voltage_reset(h, spike if v_reset is None else up + down, v_threshold, v_reset, detach_reset)


def ternary_if_step(x: Tensor, v: Tensor, v_threshold: float, v_reset: float | None, surrogate_function: Spike,
                    detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Ternary IF: H = V + X; spike +1 at H ≥ V_th, −1 at H ≤ −V_th. Returns ``(spike, v)``."""
    return _ternary(v + x, v_threshold, v_reset, surrogate_function, detach_reset)


def ternary_lif_step(x: Tensor, v: Tensor, tau: float, decay_input: bool, v_threshold: float, v_reset: float | None,
                     surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Ternary LIF: the LIF charge, spikes as :func:`ternary_if_step`. Returns ``(spike, v)``."""
    return _ternary(lif_charge(x, v, tau, decay_input, v_reset), v_threshold, v_reset, surrogate_function,
                    detach_reset)


def clif_step(x: Tensor, v: Tensor, m: Tensor, tau: float, v_threshold: float, spike_function: Spike
              ) -> tuple[Tensor, Tensor, Tensor]:
    """Complementary LIF: H = V − V/τ + X; M ← M·σ(H/τ) + S; V ← H − S·(V_th + σ(M)). Returns
    ``(spike, v, m)``."""
    h = v - v / tau + x
    spike = spike_function(h - v_threshold)
    m = m * torch.sigmoid(h / tau) + spike
    return spike, h - spike * (v_threshold + torch.sigmoid(m)), m


def gated_lif_step(x: Tensor, v: Tensor, spike: Tensor, alpha: Tensor, beta: Tensor, gamma: Tensor, tau: Tensor,
                   v_threshold: Tensor, linear_decay: Tensor, v_subreset: Tensor, conduct: Tensor,
                   surrogate_function: Spike) -> tuple[Tensor, Tensor]:
    """Gated LIF (GLIF) with gates already through the sigmoid: from the previous ``spike``, V ← (1 − α(1 − τ))V −
    (1 − α)·linear_decay + X(1 − β(1 − conduct)) − (1 − α(1 − τ))·V·γ·S − (1 − γ)·v_subreset·S. Returns
    ``(spike, v)``."""
    leak = 1 - alpha * (1 - tau)
    u = leak * v - (1 - alpha) * linear_decay + x * (1 - beta * (1 - conduct))
    u = u - leak * v * gamma * spike - (1 - gamma) * v_subreset * spike
    return surrogate_function(u - v_threshold), u


def sliding_psn_step(x: Tensor, queue: tuple[Tensor, ...], weight: Tensor, bias: Tensor,
                     surrogate_function: Spike) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Sliding PSN: H = Σ of the last ``k = weight.numel()`` inputs weighted by the last weights, spike
    ``f(H + bias)``. ``queue`` holds earlier flattened inputs, oldest first. Returns ``(spike, queue)``."""
    k = weight.numel()
    queue = (*queue, x.flatten())[-k:]
    h = (weight[k - len(queue):].unsqueeze(-1) * torch.stack(queue)).sum(0)
    return surrogate_function(h + bias).view(x.shape), queue


def masked_psn_step(x: Tensor, time_step: int, queue: tuple[Tensor, ...], masked_weight: Tensor, bias: Tensor,
                    k: int, surrogate_function: Spike) -> tuple[Tensor, int, tuple[Tensor, ...]]:
    """Masked PSN at step ``time_step``: row ``time_step`` of ``masked_weight`` ``[T, T]`` over the last ``k``
    inputs, plus ``bias[time_step]``. Returns ``(spike, time_step + 1, queue)``."""
    queue = (*queue, x.flatten())[-k:]
    row = masked_weight[time_step, time_step + 1 - len(queue):time_step + 1]
    h = (row.unsqueeze(-1) * torch.stack(queue)).sum(0)
    return surrogate_function(h + bias[time_step]).view(x.shape), time_step + 1, queue


def stbif_step(x: Tensor, q: Tensor, acc_q: Tensor, q_threshold: Tensor, pos_max: Tensor, neg_min: Tensor
               ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """SpikeZIP's signed-threshold bounded IF (inference): Q ← Q + X/q_threshold; emits +1 where Q ≥ 1 and the
    count is below ``pos_max``, −1 where Q < 0 and it is above ``neg_min``. Returns ``(out, q, acc_q, current)``
    with ``out = current·q_threshold``."""
    q_threshold, pos_max, neg_min = (t.to(device=x.device, dtype=x.dtype) for t in (q_threshold, pos_max, neg_min))
    q = q + x / q_threshold
    acc_q = acc_q.round()
    up = (q >= 1) & (acc_q < pos_max)
    down = (q < 0) & (acc_q > neg_min)
    current = up.to(x.dtype) - down.to(x.dtype)
    return current * q_threshold, q - current, acc_q + current, current


def activation_aware_if_step(x: Tensor, v: Tensor, v_threshold: Tensor, v_offset: Tensor, v_reset: float | None,
                             surrogate_function: Spike, detach_reset: bool = False) -> tuple[Tensor, Tensor]:
    """Activation-aware IF: H = V + X fires where H + offset ≥ V_th (threshold and offset broadcastable to ``x``),
    resets as IF. Returns ``(spike, v)``."""
    h = v + x
    spike = surrogate_function(h + v_offset - v_threshold)
    return spike, voltage_reset(h, spike, v_threshold, v_reset, detach_reset)


# ------------------------------------------------------------------------------------------------------ sequences
def _no_precision(neuron_storage) -> None:
    if neuron_storage is not None:
        raise ValueError("sj: explicit neuron precision (neuron_storage / neuron_fwd / neuron_bwd, SpikingJelly's "
                         "Triton mixed-precision kernels) is not supported; cast the input instead")


def _sequence(x_seq: Tensor, states: tuple[Tensor, ...], step: Callable, record: int) -> tuple:
    """Loop ``step(x, *states) -> (out, *states)``; returns ``(outputs, states, sequences of the first `record`
    states)``."""
    outs, seqs = [], [[] for _ in range(record)]
    for x in x_seq:
        out, *states = step(x, *states)
        outs.append(out)
        for i in range(record):
            seqs[i].append(states[i])
    return torch.stack(outs), states, [torch.stack(s) for s in seqs]


def _declared(neuron: str, x_seq: Tensor, states: list[Tensor], params: list, sg, v_reset, detach_reset: bool,
              store_v_seq: bool, backend: str):
    """Through the multi-step op: ``(spikes, last states, v_seq or None)``."""
    from sj.ops import multistep

    params = [0.0 if (p is None and i == 1) else p for i, p in enumerate(params)]
    return multistep(neuron, x_seq, states, params, surrogate=sg.name, surrogate_params=sg.param_values,
                     soft_reset=v_reset is None, detach_reset=detach_reset, store_v_seq=store_v_seq, backend=backend)


def _fused(sg) -> bool:
    return isinstance(sg, SurrogateFunction) and sg.spiking


def _one_state(neuron: str, x_seq: Tensor, v: Tensor, params: list, surrogate_function: Spike | None,
               v_reset: float | None, detach_reset: bool, store_v_seq: bool, backend: str,
               step: Callable[[Tensor, Tensor, Spike], tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor | None]:
    """A one-state neuron over a sequence: the multi-step op of declaration ``neuron`` with ``params`` for a declared
    spiking surrogate, else ``step(x, v, surrogate)`` looped. ``(spike_seq, v, v_seq or None)``."""
    sg = Sigmoid() if surrogate_function is None else surrogate_function
    if _fused(sg):
        s, (v,), v_seq = _declared(neuron, x_seq, [v], params, sg, v_reset, detach_reset, store_v_seq, backend)
        return s, v, v_seq
    s, (v,), seqs = _sequence(x_seq, (v,), lambda x, v: step(x, v, sg), int(store_v_seq))
    return s, v, seqs[0] if store_v_seq else None


def if_multi_step(x_seq: Tensor, v: Tensor, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                  surrogate_function: Spike | None = None, detach_reset: bool = False, store_v_seq: bool = False, *,
                  neuron_storage=None, neuron_fwd: str = "fp32", neuron_bwd: str = "fp32", backend: str = "auto"
                  ) -> tuple[Tensor, Tensor, Tensor | None]:
    """IF over a sequence. Returns ``(spike_seq, v, v_seq or None)``."""
    _no_precision(neuron_storage)
    return _one_state("if_", x_seq, v, [v_threshold, v_reset], surrogate_function, v_reset, detach_reset,
                      store_v_seq, backend, lambda x, v, sg: if_step(x, v, v_threshold, v_reset, sg, detach_reset))


def lif_multi_step(x_seq: Tensor, v: Tensor, tau: float = 2.0, decay_input: bool = True, v_threshold: float = 1.0,
                   v_reset: float | None = 0.0, surrogate_function: Spike | None = None, detach_reset: bool = False,
                   store_v_seq: bool = False, *, neuron_storage=None, neuron_fwd: str = "fp32",
                   neuron_bwd: str = "fp32", backend: str = "auto") -> tuple[Tensor, Tensor, Tensor | None]:
    """LIF over a sequence. Returns ``(spike_seq, v, v_seq or None)``."""
    _no_precision(neuron_storage)
    return _one_state("lif" if decay_input else "lif_nodecay", x_seq, v, [v_threshold, v_reset, tau],
                      surrogate_function, v_reset, detach_reset, store_v_seq, backend,
                      lambda x, v, sg: lif_step(x, v, tau, decay_input, v_threshold, v_reset, sg, detach_reset))


def plif_multi_step(x_seq: Tensor, v: Tensor, w: Tensor, decay_input: bool = True, v_threshold: float = 1.0,
                    v_reset: float | None = 0.0, surrogate_function: Spike | None = None, detach_reset: bool = False,
                    store_v_seq: bool = False, *, neuron_storage=None, neuron_fwd: str = "fp32",
                    neuron_bwd: str = "fp32", backend: str = "auto") -> tuple[Tensor, Tensor, Tensor | None]:
    """Parametric LIF over a sequence (1/τ = σ(w)). Returns ``(spike_seq, v, v_seq or None)``."""
    _no_precision(neuron_storage)
    return _one_state("plif" if decay_input else "plif_nodecay", x_seq, v, [v_threshold, v_reset, w],
                      surrogate_function, v_reset, detach_reset, store_v_seq, backend,
                      lambda x, v, sg: plif_step(x, v, w, decay_input, v_threshold, v_reset, sg, detach_reset))


def qif_multi_step(x_seq: Tensor, v: Tensor, tau: float = 2.0, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                   v_rest: float = 0.0, v_c: float = 0.8, a0: float = 1.0, detach_reset: bool = False,
                   surrogate_function: Spike | None = None, store_v_seq: bool = False, *, backend: str = "auto"
                   ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Quadratic IF over a sequence. Returns ``(spike_seq, v, v_seq or None)``."""
    return _one_state("qif", x_seq, v, [v_threshold, v_reset, tau, v_c, a0, v_rest], surrogate_function, v_reset,
                      detach_reset, store_v_seq, backend,
                      lambda x, v, sg: qif_step(x, v, tau, a0, v_rest, v_c, v_threshold, v_reset, sg, detach_reset))


def eif_multi_step(x_seq: Tensor, v: Tensor, tau: float = 2.0, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                   v_rest: float = 0.0, theta_rh: float = 1.0, delta_t: float = 1.0, detach_reset: bool = False,
                   surrogate_function: Spike | None = None, store_v_seq: bool = False, *, backend: str = "auto"
                   ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Exponential IF over a sequence. Returns ``(spike_seq, v, v_seq or None)``."""
    return _one_state("eif", x_seq, v, [v_threshold, v_reset, tau, delta_t, theta_rh, v_rest], surrogate_function,
                      v_reset, detach_reset, store_v_seq, backend,
                      lambda x, v, sg: eif_step(x, v, tau, delta_t, theta_rh, v_rest, v_threshold, v_reset, sg,
                                                detach_reset))


def izhikevich_multi_step(x_seq: Tensor, v: Tensor, w: Tensor, tau: float = 2.0, v_threshold: float = 1.0,
                          v_reset: float | None = 0.0, v_rest: float = 0.0, a: float = 0.1, b: float = 0.2,
                          tau_w: float = 2.0, v_c: float = 0.8, a0: float = 1.0, detach_reset: bool = False,
                          surrogate_function: Spike | None = None, store_state_seq: bool = False, *,
                          backend: str = "auto") -> tuple:
    """Izhikevich over a sequence. Returns ``(spike_seq, v, w, v_seq or None, w_seq or None)`` (the sequences with
    ``store_state_seq``; the fused op records V only, so that case loops the step)."""
    sg = Sigmoid() if surrogate_function is None else surrogate_function
    if _fused(sg) and not store_state_seq:
        s, (v, w), _ = _declared("izhikevich", x_seq, [v, w], [v_threshold, v_reset, tau, v_c, a0, v_rest, a, b,
                                                                tau_w], sg, v_reset, detach_reset, False, backend)
        return s, v, w, None, None
    s, (v, w), seqs = _sequence(
        x_seq, (v, w),
        lambda x, v, w: izhikevich_step(x, v, w, tau, a0, v_rest, v_c, tau_w, a, b, v_threshold, v_reset, sg,
                                        detach_reset), 2 if store_state_seq else 0)
    return (s, v, w, *seqs) if store_state_seq else (s, v, w, None, None)


def ilif_multi_step(x_seq: Tensor, v: Tensor, tau: float = 2.0, v_threshold: float = 1.0,
                    surrogate_function: Spike | None = None, detach_reset: bool = False, store_v_seq: bool = False
                    ) -> tuple[Tensor, Tensor, Tensor | None]:
    """I-LIF over a sequence (:func:`ilif_step`). Returns ``(count_seq, v, v_seq or None)``."""
    s, (v,), seqs = _sequence(
        x_seq, (v,), lambda x, v: ilif_step(x, v, tau, v_threshold, surrogate_function, detach_reset),
        int(store_v_seq))
    return s, v, seqs[0] if store_v_seq else None


def activation_aware_if_multi_step(x_seq: Tensor, v: Tensor, v_threshold: Tensor, v_offset: Tensor,
                                   channel_size: int, inner_size: int, v_reset: float | None = 0.0,
                                   store_v_seq: bool = False) -> tuple[Tensor, Tensor, Tensor | None]:
    """Activation-aware IF over a sequence, inference only (Θ spikes, no gradients): per-channel ``v_threshold`` and
    ``v_offset`` (one value, or ``channel_size`` values; channel of element i = i // inner_size % channel_size).
    Returns ``(spike_seq, v, v_seq or None)``."""
    if any(t.requires_grad for t in (x_seq, v, v_threshold, v_offset)) and torch.is_grad_enabled():
        raise RuntimeError("activation_aware_if_multi_step is inference only: its inputs must not require grad")
    if channel_size < 1 or inner_size < 1 or v.numel() % (channel_size * inner_size):
        raise ValueError(f"activation_aware_if_multi_step: channel_size·inner_size = {channel_size}·{inner_size} "
                         f"must divide the {v.numel()} neurons")

    def per_neuron(p: Tensor) -> Tensor:
        p = p.to(device=x_seq.device, dtype=torch.float32).reshape(-1)
        if p.numel() == 1:
            return p.reshape(())
        if p.numel() != channel_size:
            raise ValueError(f"activation_aware_if_multi_step: a parameter has {p.numel()} values, expected 1 or "
                             f"channel_size = {channel_size}")
        index = torch.arange(v.numel(), device=x_seq.device) // inner_size % channel_size
        return p[index].reshape(v.shape)

    threshold, offset = per_neuron(v_threshold), per_neuron(v_offset)
    step = lambda x, v: activation_aware_if_step(x.float(), v, threshold, offset, v_reset,  # noqa: E731
                                                 lambda z: (z >= 0).float())
    s, (v,), seqs = _sequence(x_seq, (v,), step, int(store_v_seq))
    return s.to(x_seq.dtype), v, seqs[0] if store_v_seq else None


def stbif_multi_step(x_seq: Tensor, q: Tensor, acc_q: Tensor, q_threshold: Tensor, pos_max: Tensor, neg_min: Tensor
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`stbif_step` over a sequence (inference only). Returns ``(out_seq, q, acc_q, current)``."""
    if x_seq.shape[0] == 0:
        raise ValueError("stbif_multi_step: the input sequence has 0 time steps")
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x_seq, q, acc_q, q_threshold, pos_max, neg_min)):
        raise RuntimeError("stbif_multi_step is inference only: its inputs must not require grad")
    outs, current = [], torch.zeros_like(q)
    for x in x_seq:
        out, q, acc_q, current = stbif_step(x, q, acc_q, q_threshold, pos_max, neg_min)
        outs.append(out)
    return torch.stack(outs), q, acc_q, current


# -------------------------------------------------------------------------------------------------- introspection
_DECLARED = {"if": "if_", "lif": "lif", "plif": "plif", "qif": "qif", "eif": "eif", "izhikevich": "izhikevich"}
_TORCH_ONLY = ("ilif", "activation_aware_if", "stbif", "clif")


def neuron_implementation(neuron_type: str, device: torch.device, *, execution: str = "eager") -> dict:
    """Which implementations can run ``neuron_type`` on ``device``: ``{"implementation": [backends that can],
    "unavailable": {backend: why not}}``. A declared neuron lists sj's multi-step backends (:doc:`/neurons`); the
    others run their torch step (``["torch-reference"]``)."""
    if neuron_type not in (*_DECLARED, *_TORCH_ONLY):
        raise ValueError(f"neuron_implementation: unknown neuron type {neuron_type!r}; known: "
                         f"{sorted((*_DECLARED, *_TORCH_ONLY))}")
    if execution not in ("eager", "compile"):
        raise ValueError(f"neuron_implementation: execution must be 'eager' or 'compile', got {execution!r}")
    device = torch.device(device)
    if neuron_type in _TORCH_ONLY:
        return {"implementation": ["torch-reference"], "unavailable": {}}
    from sj.backends.registry import backends, unsupported_reason
    from sj.ops import MultiStepSpec

    spec = MultiStepSpec(_DECLARED[neuron_type], "Sigmoid", (4.0,), False, False, False)
    reasons = {name: unsupported_reason(name, spec, device, torch.float32) for name in backends()}
    return {"implementation": [n for n, r in reasons.items() if r is None],
            "unavailable": {n: r for n, r in reasons.items() if r is not None}}
