"""Neurons for NIR's continuous-time nodes, declared once with :func:`sj.neuron.declaration.declare`.

NIR's LIF is the ODE ``τ dv/dt = (v_leak − v) + R·I``; one forward-Euler step of length ``dt`` is

    H = V + (v_leak − V + r·X) / τ_steps,      τ_steps = τ / dt

which sj's built-in LIF cannot express when ``r ≠ 1`` (or ``r ≠ τ_steps``) or ``v_leak ≠ V_reset``. The declarations
here can, so every backend runs them. CUBA neurons add a synaptic current ``c`` (``τ_syn dI/dt = −I + w_in·S``),
updated either before the membrane (``current-first``: the new current drives the voltage, snnTorch/sj order) or
after it (``voltage-first``: the voltage sees the previous current, Norse order).

Firing and reset are sj's: ``S = Θ(H − V_th)`` (1 where ``H ≥ V_th``) and hard/soft reset. Producers that fire on
``H > V_th`` (the NIR spec's wording) are reproduced exactly with ``strict_threshold=True``: the threshold is moved
to the next representable number above it in the dtype the step runs in, so ``H ≥ next(V_th) ⇔ H > V_th``.
"""

from __future__ import annotations

import math

import torch

from sj.neuron.declaration import NeuronDecl, declare
from sj.neuron.node import BaseNode, ParamValue
from sj.surrogate import SurrogateFunction

_EULER_V = "v + (v_leak - v + r * {drive}) / {tau}"
_EULER_C = "c + (w_in * x - c) / tau_syn"

NIR_IF = declare("nir_if", "v + r * x", params=("r",), doc="NIR IF: H = V + r·X (dt does not enter)")
NIR_LIF = declare("nir_lif", _EULER_V.format(drive="x", tau="tau"), params=("tau", "r", "v_leak"),
                  doc="NIR LIF, forward Euler: H = V + (v_leak − V + r·X)/τ (τ in steps)")


def _cuba(order: str) -> NeuronDecl:
    """The CUBA declaration for one update order (``current-first`` or ``voltage-first``)."""
    update = (("c", _EULER_C),)
    return declare(f"nir_cuba_lif_{order.replace('-', '_')}", _EULER_V.format(drive="c", tau="tau_mem"),
                   params=("tau_syn", "tau_mem", "r", "v_leak", "w_in"), aux_states=("c",),
                   pre=update if order == "current-first" else (), post=update if order == "voltage-first" else (),
                   doc=f"NIR CubaLIF, forward Euler, {order}: C ← C + (w_in·X − C)/τ_syn; "
                       "H = V + (v_leak − V + r·C)/τ_mem (τ in steps)")


CUBA_ORDERS = ("current-first", "voltage-first")
NIR_CUBA_LIF = {order: _cuba(order) for order in CUBA_ORDERS}


class _NIRNeuron(BaseNode):
    """Shared shell: strict-threshold firing, an explicit initial potential, and a non-spiking (readout) mode."""

    def __init__(self, decl: NeuronDecl, params: dict[str, ParamValue], *, spiking: bool,
                 v_threshold: ParamValue, v_reset: ParamValue | None, strict_threshold: bool,
                 v_init: ParamValue | None, surrogate_function: SurrogateFunction | None, detach_reset: bool,
                 step_mode: str, backend: str, store_v_seq: bool) -> None:
        owner = type(self).__name__
        if not spiking:
            if v_reset is None:
                raise ValueError(f"{owner}: a non-spiking neuron never resets; pass a number for v_reset, not None")
            v_threshold, store_v_seq = math.inf, True
        super().__init__(decl, params, lower_bounds={p: 0.0 for p in params if p.startswith("tau")},
                         v_threshold=v_threshold, v_reset=v_reset, surrogate_function=surrogate_function,
                         detach_reset=detach_reset, step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)
        self.spiking = bool(spiking)
        self.strict_threshold = bool(strict_threshold) and self.spiking
        if v_init is not None:
            t = torch.as_tensor(v_init, dtype=torch.get_default_dtype()).detach().clone()
            if not torch.isfinite(t).all():
                raise ValueError(f"{owner}: v_init must be finite, got {v_init}")
            self.register_buffer("v_init", t)
            self.register_memory("v", None)  # expanded to the input's shape on first use
        else:
            self.v_init = None

    def _params(self, like: torch.Tensor) -> list[torch.Tensor]:
        params = super()._params(like)
        if self.strict_threshold:
            params[0] = torch.nextafter(params[0], torch.full_like(params[0], math.inf))
        return params

    def _init_v(self, step: torch.Tensor) -> None:
        if self.v is None and self.v_init is not None:
            self.v = self.v_init.to(step.dtype).expand_as(step).clone()

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step ``[N, *]``: spikes, or the membrane potential for a non-spiking neuron."""
        self._init_v(x)
        s = super().single_step_forward(x)
        return s if self.spiking else self.v

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """A sequence ``[T, N, *]``: spikes, or the membrane potentials for a non-spiking neuron."""
        if isinstance(x_seq, torch.Tensor) and x_seq.dim() >= 2:
            self._init_v(x_seq[0])
        s = super().multi_step_forward(x_seq)
        return s if self.spiking else self.v_seq

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, spiking={self.spiking}, strict_threshold={self.strict_threshold}"


class NIRIFNode(_NIRNeuron):
    """NIR ``IF``: ``H = V + r·X`` (sj's :class:`~sj.neuron.IFNode` is the case ``r = 1``).

    Args:
        r: input resistance (number or per-neuron tensor). Other arguments as :class:`NIRLIFNode`.
    """

    def __init__(self, r: ParamValue = 1.0, v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0, *,
                 strict_threshold: bool = False, v_init: ParamValue | None = None,
                 surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str = "torch", store_v_seq: bool = False) -> None:
        super().__init__(NIR_IF, {"r": r}, spiking=True, v_threshold=v_threshold, v_reset=v_reset,
                         strict_threshold=strict_threshold, v_init=v_init, surrogate_function=surrogate_function,
                         detach_reset=detach_reset, step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)


class NIRLIFNode(_NIRNeuron):
    """NIR ``LIF`` (``spiking=True``) or ``LI`` (``spiking=False``, outputs V) in forward-Euler form.

    Args:
        tau: membrane time constant **in steps** (τ/dt, > 0; number or per-neuron tensor).
        r: input resistance (default 1).
        v_leak: leak (resting) potential (default 0).
        v_threshold, v_reset: as :class:`~sj.neuron.node.BaseNode` (``v_reset=None``: subtractive reset).
        spiking: ``False`` for a leaky integrator (threshold +∞, returns V).
        strict_threshold: fire on ``H > V_th`` instead of sj's ``H ≥ V_th``.
        v_init: initial V (number or per-neuron tensor); default ``v_reset`` (0 with soft reset).
    """

    def __init__(self, tau: ParamValue, r: ParamValue = 1.0, v_leak: ParamValue = 0.0, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = 0.0, *, spiking: bool = True, strict_threshold: bool = False,
                 v_init: ParamValue | None = None, surrogate_function: SurrogateFunction | None = None,
                 detach_reset: bool = False, step_mode: str = "s", backend: str = "torch",
                 store_v_seq: bool = False) -> None:
        super().__init__(NIR_LIF, {"tau": tau, "r": r, "v_leak": v_leak}, spiking=spiking, v_threshold=v_threshold,
                         v_reset=v_reset, strict_threshold=strict_threshold, v_init=v_init,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class NIRCubaLIFNode(_NIRNeuron):
    """NIR ``CubaLIF`` (``spiking=True``) or ``CubaLI`` (``spiking=False``, outputs V) in forward-Euler form.
    Arguments not listed below are as :class:`NIRLIFNode`'s.

    Args:
        tau_syn, tau_mem: synaptic and membrane time constants **in steps** (> 0).
        r: resistance from current to membrane (default 1); w_in: input weight into the current (default 1).
        v_leak: leak potential (default 0).
        order: ``'current-first'`` (the new current drives V) or ``'voltage-first'`` (V sees the previous current).
    """

    def __init__(self, tau_syn: ParamValue, tau_mem: ParamValue, r: ParamValue = 1.0, v_leak: ParamValue = 0.0,
                 w_in: ParamValue = 1.0, v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0, *,
                 order: str = "current-first", spiking: bool = True, strict_threshold: bool = False,
                 v_init: ParamValue | None = None, surrogate_function: SurrogateFunction | None = None,
                 detach_reset: bool = False, step_mode: str = "s", backend: str = "torch",
                 store_v_seq: bool = False) -> None:
        if order not in NIR_CUBA_LIF:
            raise ValueError(f"NIRCubaLIFNode: order must be one of {CUBA_ORDERS}, got {order!r}")
        self.order = order
        super().__init__(NIR_CUBA_LIF[order], {"tau_syn": tau_syn, "tau_mem": tau_mem, "r": r, "v_leak": v_leak,
                                               "w_in": w_in},
                         spiking=spiking, v_threshold=v_threshold, v_reset=v_reset,
                         strict_threshold=strict_threshold, v_init=v_init, surrogate_function=surrogate_function,
                         detach_reset=detach_reset, step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)
