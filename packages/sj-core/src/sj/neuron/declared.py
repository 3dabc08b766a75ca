"""Built-in neurons that are declarations (:mod:`sj.neuron.builtin`): SpikingJelly 2.0's constructors, positional
order and defaults, plus sj's ``backend`` (last). Parameters may be numbers or per-neuron tensors broadcastable to the
neuron shape. These run the fused multi-step op on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from sj.base import MemoryModule
from sj.neuron import builtin
from sj.neuron.node import ABOVE_ONE, FRACTION, POSITIVE, BaseNode, ParamValue, _as_param
from sj.surrogate import Rect, SurrogateFunction

SG = SurrogateFunction | None


class IFNode(BaseNode):
    """Integrate-and-fire: H = V + X. See :class:`~sj.neuron.node.BaseNode` for the common arguments."""

    def __init__(self, v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0, surrogate_function: SG = None,
                 detach_reset: bool = False, step_mode: str = "s", store_v_seq: bool = False,
                 backend: str = "auto") -> None:
        super().__init__(builtin.IF, {}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class LIFNode(BaseNode):
    """Leaky integrate-and-fire: H = V + (X − (V − V_reset))/τ (``decay_input=False``: H = V − (V − V_reset)/τ + X).

    Args:
        tau: membrane time constant in steps (> 1; number or per-neuron tensor). Default 2.0.
        decay_input: whether the input is divided by τ as well (default ``True``).
    """

    def __init__(self, tau: ParamValue = 2.0, decay_input: bool = True, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SG = None, detach_reset: bool = False,
                 step_mode: str = "s", store_v_seq: bool = False, backend: str = "auto") -> None:
        self.decay_input = bool(decay_input)
        super().__init__(builtin.LIF if decay_input else builtin.LIF_NO_DECAY_INPUT, {"tau": tau},
                         bounds={"tau": ABOVE_ONE}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class ParametricLIFNode(BaseNode):
    """LIF with a learnable time constant: 1/τ = σ(w), ``w`` an ``nn.Parameter`` initialised to give ``init_tau``.

    Args:
        init_tau: initial τ (> 1). Default 2.0. A per-neuron tensor gives per-neuron learnable time constants.
    """

    def __init__(self, init_tau: ParamValue = 2.0, decay_input: bool = True, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SG = None, detach_reset: bool = False,
                 step_mode: str = "s", store_v_seq: bool = False, backend: str = "auto") -> None:
        tau = _as_param("ParametricLIFNode", "init_tau", init_tau, ABOVE_ONE)
        self.decay_input = bool(decay_input)
        super().__init__(builtin.PLIF if decay_input else builtin.PLIF_NO_DECAY_INPUT, {"w": -torch.log(tau - 1.0)},
                         learnable=("w",), v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)

    @property
    def tau(self) -> torch.Tensor:
        """The current time constant 1/σ(w) (detached)."""
        return 1.0 / torch.sigmoid(self.w.detach())


class QIFNode(BaseNode):
    """Quadratic integrate-and-fire: H = V + (X + a0(V − V_rest)(V − V_c))/τ (defaults: τ=2, V_c=0.8, a0=1,
    V_rest=0, V_reset=−0.1)."""

    def __init__(self, tau: ParamValue = 2.0, v_c: ParamValue = 0.8, a0: ParamValue = 1.0,
                 v_threshold: ParamValue = 1.0, v_rest: ParamValue = 0.0, v_reset: ParamValue | None = -0.1,
                 surrogate_function: SG = None, detach_reset: bool = False, step_mode: str = "s",
                 store_v_seq: bool = False, backend: str = "auto") -> None:
        super().__init__(builtin.QIF, {"tau": tau, "v_c": v_c, "a0": a0, "v_rest": v_rest},
                         bounds={"tau": ABOVE_ONE, "a0": POSITIVE}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class EIFNode(BaseNode):
    """Exponential integrate-and-fire: H = V + (X + V_rest − V + Δ_T·exp((V − θ_rh)/Δ_T))/τ (defaults: τ=2, Δ_T=1,
    θ_rh=0.8, V_rest=0, V_reset=−0.1)."""

    def __init__(self, tau: ParamValue = 2.0, delta_T: ParamValue = 1.0, theta_rh: ParamValue = 0.8,
                 v_threshold: ParamValue = 1.0, v_rest: ParamValue = 0.0, v_reset: ParamValue | None = -0.1,
                 surrogate_function: SG = None, detach_reset: bool = False, step_mode: str = "s",
                 store_v_seq: bool = False, backend: str = "auto") -> None:
        super().__init__(builtin.EIF, {"tau": tau, "delta_T": delta_T, "theta_rh": theta_rh, "v_rest": v_rest},
                         bounds={"tau": ABOVE_ONE, "delta_T": POSITIVE}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class AdaptBaseNode(BaseNode):
    """SpikingJelly's base of neurons with an adaptation state ``w`` (memory, starting at ``w_rest``): a subclass
    defines the step (``single_step_functional_forward`` or ``neuronal_charge``); :meth:`neuronal_adaptation` is the
    adaptation update W ← W + (a(V − V_rest) − W)/τ_w. :class:`IzhikevichNode` is its declared built-in."""

    def __init__(self, v_threshold: float = 1.0, v_reset: float | None = 0.0, v_rest: float = 0.0,
                 w_rest: float = 0.0, tau_w: float = 2.0, a: float = 0.0, b: float = 0.0,
                 surrogate_function: Callable | None = None, detach_reset: bool = False, step_mode: str = "s",
                 store_v_seq: bool = False) -> None:
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq)
        self.register_memory("w", float(w_rest))
        self.w_rest, self.v_rest, self.tau_w, self.a, self.b = float(w_rest), v_rest, tau_w, a, b

    @staticmethod
    def jit_neuronal_adaptation(w: torch.Tensor, tau_w: float, a: float, v_rest: float, v: torch.Tensor
                                ) -> torch.Tensor:
        """W + (a(V − V_rest) − W)/τ_w."""
        return w + (a * (v - v_rest) - w) / tau_w

    def neuronal_adaptation(self) -> None:
        """Update ``self.w`` from the current ``self.v``."""
        self.w = self.jit_neuronal_adaptation(self.w, self.tau_w, self.a, self.v_rest, self.v)

    def materialize_states(self, inputs: tuple, states: tuple, step_mode: str) -> tuple:
        states = super().materialize_states(inputs, states, step_mode)
        if self.decl is not None:
            return states
        w = states[-1]
        if isinstance(w, int | float):
            w = torch.full_like(states[0], float(w))
        return (*states[:-1], w)


class IzhikevichNode(AdaptBaseNode):
    """Izhikevich neuron: H = V + (X + a0(V − V_rest)(V − V_c) − W)/τ; W ← W + (a(H − V_rest) − W)/τ_w + b·S, W
    starting at ``w_rest`` (defaults as SpikingJelly 2.0: a = b = w_rest = 0, V_rest = −0.1)."""

    def __init__(self, tau: ParamValue = 2.0, v_c: ParamValue = 0.8, a0: ParamValue = 1.0,
                 v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0, v_rest: ParamValue = -0.1,
                 w_rest: float = 0.0, tau_w: ParamValue = 2.0, a: ParamValue = 0.0, b: ParamValue = 0.0,
                 surrogate_function: SG = None, detach_reset: bool = False, step_mode: str = "s",
                 store_v_seq: bool = False, backend: str = "auto") -> None:
        if isinstance(w_rest, bool) or not isinstance(w_rest, int | float) or not math.isfinite(w_rest):
            raise ValueError(f"IzhikevichNode: w_rest must be a finite number, got {w_rest!r}")
        BaseNode.__init__(self, builtin.IZHIKEVICH, {"tau": tau, "v_c": v_c, "a0": a0, "v_rest": v_rest, "a": a,
                                                     "b": b, "tau_w": tau_w},
                          bounds={"tau": ABOVE_ONE, "a0": POSITIVE, "tau_w": POSITIVE}, v_threshold=v_threshold,
                          v_reset=v_reset, surrogate_function=surrogate_function, detach_reset=detach_reset,
                          step_mode=step_mode, backend=backend, store_v_seq=store_v_seq, aux_init={"w": w_rest})
        self.w_rest = float(w_rest)


class KLIFNode(BaseNode):
    """K-based LIF (KLIF): H = ReLU(k·(LIF charge)) with learnable ``k`` (initial 1).

    Args:
        scale_reset: reset the membrane in the unscaled domain, V = reset(H/k) with threshold V_th/k (SpikingJelly
            2.0); not a declaration, so it runs the torch step function in both step modes.
    """

    def __init__(self, scale_reset: bool = False, tau: ParamValue = 2.0, decay_input: bool = True,
                 v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0, surrogate_function: SG = None,
                 detach_reset: bool = False, step_mode: str = "s", store_v_seq: bool = False,
                 backend: str = "auto") -> None:
        self.decay_input = bool(decay_input)
        super().__init__(builtin.KLIF if decay_input else builtin.KLIF_NO_DECAY_INPUT, {"tau": tau, "k": 1.0},
                         learnable=("k",), bounds={"tau": ABOVE_ONE}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)
        self.scale_reset = scale_reset

    @property
    def scale_reset(self) -> bool:
        return self._scale_reset

    @scale_reset.setter
    def scale_reset(self, value: bool) -> None:
        self._scale_reset = bool(value)
        self.__dict__["_path"] = "functional" if value else None  # chosen again on the next call

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        if not self._scale_reset:
            return super().single_step_functional_forward(inputs, states, **kwargs)
        from sj.functional.neuron_steps import klif_step

        s, v = klif_step(inputs[0], states[0], self.k, self.tau, self.decay_input, True, self.v_threshold,
                         self.v_reset, self.surrogate_function, self.detach_reset)
        return (s,), (v, *states[1:])

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        if not self._scale_reset:
            return super().multi_step_functional_forward(inputs, states, **kwargs)
        return MemoryModule.multi_step_functional_forward(self, inputs, states, **kwargs)  # loops the step above


class CUBALIFNode(BaseNode):
    """Current-based LIF with synaptic current state ``c`` (SpikingJelly 2.0): C ← C·c_decay + X; H = V·v_decay + C.

    ``c_decay`` and ``v_decay`` are the fractions kept per step, in [0, 1] (defaults 0.5, 0.75; V_th 0.5; Rect).
    """

    default_surrogate = Rect

    def __init__(self, c_decay: ParamValue = 0.5, v_decay: ParamValue = 0.75, v_threshold: ParamValue = 0.5,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SG = None, detach_reset: bool = False,
                 step_mode: str = "s", store_v_seq: bool = False, backend: str = "auto") -> None:
        super().__init__(builtin.CUBA_LIF, {"c_decay": c_decay, "v_decay": v_decay},
                         bounds={"c_decay": FRACTION, "v_decay": FRACTION}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class RAFNode(BaseNode):
    """Resonate-and-fire neuron (SpikingJelly 2.0): a damped oscillator (U, V) rotated by ω·dt and damped by
    e^{b·dt} per step, fed by X through U: H = e^{b·dt}(U sin ω·dt + V cos ω·dt), U ← e^{b·dt}(U cos ω·dt −
    V sin ω·dt) + X; fires on H.

    Args:
        b: damping (< 0). omega: angular frequency (> 0). dt: step (> 0). These are plain numbers, as in SpikingJelly;
        assigning one updates the dynamics.
    """

    def __init__(self, b: float = -0.2, omega: float = 1.0, dt: float = 1.0, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SG = None, detach_reset: bool = False,
                 step_mode: str = "s", store_v_seq: bool = False, backend: str = "auto") -> None:
        self._b, self._omega, self._dt = (self._checked(n, v) for n, v in (("b", b), ("omega", omega), ("dt", dt)))
        cos, sin = self._rotation()
        super().__init__(builtin.RAF, {"decay_cos": cos, "decay_sin": sin}, v_threshold=v_threshold,
                         v_reset=v_reset, surrogate_function=surrogate_function, detach_reset=detach_reset,
                         step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)
        self._non_persistent_buffers_set.update(("decay_cos", "decay_sin"))  # derived from b, omega, dt

    @staticmethod
    def _checked(name: str, value: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"RAFNode: {name} must be a finite number, got {value!r}")
        if (value >= 0) if name == "b" else (value <= 0):
            raise ValueError(f"RAFNode: {name} must be {'< 0' if name == 'b' else '> 0'}, got {value}")
        return float(value)

    def _rotation(self) -> tuple[float, float]:
        decay = math.exp(self._b * self._dt)
        return decay * math.cos(self._omega * self._dt), decay * math.sin(self._omega * self._dt)

    def _set(self, name: str, value: float) -> None:
        setattr(self, "_" + name, self._checked(name, value))
        self.decay_cos, self.decay_sin = self._rotation()

    b = property(lambda self: self._b, lambda self, v: self._set("b", v), doc="Damping (< 0).")
    omega = property(lambda self: self._omega, lambda self, v: self._set("omega", v), doc="Angular frequency.")
    dt = property(lambda self: self._dt, lambda self, v: self._set("dt", v), doc="Time step.")


class HalfThresholdIFNode(BaseNode):
    """IF with soft reset whose membrane starts (and restarts after :meth:`reset`) at V_th/2: rounding, not flooring,
    of the spike count (used by ANN→SNN conversion). ``v_threshold`` must be a finite positive number."""

    def __init__(self, v_threshold: float = 1.0, surrogate_function: SG = None, detach_reset: bool = False,
                 step_mode: str = "s", store_v_seq: bool = False, backend: str = "auto") -> None:
        vth = _as_param("HalfThresholdIFNode", "v_threshold", v_threshold, POSITIVE)
        if vth.dim() != 0:
            raise ValueError(f"HalfThresholdIFNode: v_threshold must be a number, got a tensor {tuple(vth.shape)}")
        super().__init__(builtin.IF, {}, v_threshold=float(vth), v_reset=None, surrogate_function=surrogate_function,
                         detach_reset=detach_reset, step_mode=step_mode, backend=backend, store_v_seq=store_v_seq,
                         v_init=float(vth) / 2.0)


class LIAFNode(LIFNode):
    """Leaky integrate and analog fire: LIF dynamics (spikes drive the reset) but the output is ``act(H)`` or, with
    ``threshold_related``, ``act(H − V_th)``. ``*args, **kwargs`` are :class:`LIFNode`'s.

    Multi-step mode loops the step function (H is needed at every step; the fused op does not return it). SpikingJelly
    2.0 returns spikes instead of ``act(H)`` in multi-step mode; sj returns ``act(H)`` in both modes.
    """

    def __init__(self, act: Callable[[torch.Tensor], torch.Tensor], threshold_related: bool, *args, **kwargs) -> None:
        if kwargs.get("backend", "auto") not in ("auto", "torch"):
            raise ValueError("LIAFNode supports only backend='torch' (its multi-step mode loops the step function)")
        super().__init__(*args, **kwargs)
        self.act = act
        self.threshold_related = bool(threshold_related)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.advance(x)[1]
        out = self.act(h - self.v_threshold.to(h.dtype) if self.threshold_related else h)
        if self.store_v_seq:
            self._append_v_seq()
        return out

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        self._check_rank(x_seq, multi=True)
        outs, vs = [], []
        for x in x_seq:
            h = self.advance(x)[1]
            outs.append(self.act(h - self.v_threshold.to(h.dtype) if self.threshold_related else h))
            vs.append(self.v)
        if self.store_v_seq:
            self.v_seq = torch.stack(vs)
        return torch.stack(outs)
