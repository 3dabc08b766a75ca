"""Spiking neuron modules (SpikingJelly-compatible names, arguments and defaults).

Every neuron is a declaration (:mod:`sj.neuron.builtin`) plus :class:`~sj.neuron.node.BaseNode`. Parameters may be
numbers or per-neuron tensors broadcastable to the neuron shape. Charge equations (H from V and X):

========================  =======================================================================================
``IFNode``                H = V + X
``LIFNode``               H = V + (X − (V − V_reset))/τ   (``decay_input=False``: H = V − (V − V_reset)/τ + X)
``ParametricLIFNode``     as LIF with 1/τ = σ(w), w learnable (initialised from ``init_tau``)
``QIFNode``               H = V + (X + a0(V − V_rest)(V − V_c))/τ
``EIFNode``               H = V + (X + V_rest − V + Δ_T·exp((V − θ_rh)/Δ_T))/τ
``IzhikevichNode``        H = V + (X + a0(V − V_rest)(V − V_c) − W)/τ;  W ← W + (a(H − V_rest) − W)/τ_w + b·S
``KLIFNode``              H = ReLU(k·(V + (X − (V − V_reset))/τ)), k learnable
``CUBALIFNode``           C ← C(1 − c_decay) + X;  H = V(1 − v_decay) + C
``LIAFNode``              LIF dynamics; outputs act(H) (or act(H − V_th)) instead of spikes
``NonSpikingLIFNode``     LIF charge, never fires; outputs V (a readout)
========================  =======================================================================================

Then S = Θ(H − V_th) and V = H(1 − S) + V_reset·S (hard) or V = H − V_th·S (soft, ``v_reset=None``). In soft-reset
mode V_reset is 0 inside the charge equations.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from sj.base import StepModeError
from sj.neuron import builtin
from sj.neuron.node import BaseNode, ParamValue, _as_param
from sj.surrogate import Rect, SurrogateFunction

__all__ = ["BaseNode", "CUBALIFNode", "EIFNode", "IFNode", "IzhikevichNode", "KLIFNode", "LIAFNode", "LIFNode",
           "NonSpikingLIFNode", "ParametricLIFNode", "QIFNode"]

_TAU = {"tau": 1.0}  # tau > 1 keeps the forward-Euler charge stable (SpikingJelly asserts the same)


class IFNode(BaseNode):
    """Integrate-and-fire neuron. See :class:`~sj.neuron.node.BaseNode` for the common arguments."""

    def __init__(self, v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0,
                 surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str = "torch", store_v_seq: bool = False) -> None:
        super().__init__(builtin.IF, {}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class LIFNode(BaseNode):
    """Leaky integrate-and-fire neuron.

    Args:
        tau: membrane time constant in steps (> 1; number or per-neuron tensor). Default 2.0.
        decay_input: whether the input is divided by τ as well (SpikingJelly's default ``True``).
    """

    def __init__(self, tau: ParamValue = 2.0, decay_input: bool = True, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SurrogateFunction | None = None,
                 detach_reset: bool = False, step_mode: str = "s", backend: str = "torch",
                 store_v_seq: bool = False) -> None:
        self.decay_input = bool(decay_input)
        super().__init__(builtin.LIF if decay_input else builtin.LIF_NO_DECAY_INPUT, {"tau": tau},
                         lower_bounds=_TAU, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class ParametricLIFNode(BaseNode):
    """LIF with a learnable time constant: 1/τ = σ(w), ``w`` an ``nn.Parameter`` initialised to give ``init_tau``.

    Args:
        init_tau: initial τ (> 1). Default 2.0. A per-neuron tensor gives per-neuron learnable time constants.
    """

    def __init__(self, init_tau: ParamValue = 2.0, decay_input: bool = True, v_threshold: ParamValue = 1.0,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SurrogateFunction | None = None,
                 detach_reset: bool = False, step_mode: str = "s", backend: str = "torch",
                 store_v_seq: bool = False) -> None:
        tau = _as_param("ParametricLIFNode", "init_tau", init_tau, low=1.0)
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
    """Quadratic integrate-and-fire neuron (defaults as SpikingJelly: τ=2, V_c=0.8, a0=1, V_rest=0, V_reset=−0.1)."""

    def __init__(self, tau: ParamValue = 2.0, v_c: ParamValue = 0.8, a0: ParamValue = 1.0,
                 v_threshold: ParamValue = 1.0, v_rest: ParamValue = 0.0, v_reset: ParamValue | None = -0.1,
                 surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str = "torch", store_v_seq: bool = False) -> None:
        super().__init__(builtin.QIF, {"tau": tau, "v_c": v_c, "a0": a0, "v_rest": v_rest}, lower_bounds=_TAU,
                         v_threshold=v_threshold, v_reset=v_reset, surrogate_function=surrogate_function,
                         detach_reset=detach_reset, step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)


class EIFNode(BaseNode):
    """Exponential integrate-and-fire neuron (defaults: τ=2, Δ_T=1, θ_rh=0.8, V_rest=0, V_reset=−0.1)."""

    def __init__(self, tau: ParamValue = 2.0, delta_T: ParamValue = 1.0, theta_rh: ParamValue = 0.8,
                 v_threshold: ParamValue = 1.0, v_rest: ParamValue = 0.0, v_reset: ParamValue | None = -0.1,
                 surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str = "torch", store_v_seq: bool = False) -> None:
        super().__init__(builtin.EIF, {"tau": tau, "delta_T": delta_T, "theta_rh": theta_rh, "v_rest": v_rest},
                         lower_bounds={**_TAU, "delta_T": 0.0}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class IzhikevichNode(BaseNode):
    """Izhikevich neuron with adaptation state ``w`` (defaults as SpikingJelly)."""

    def __init__(self, tau: ParamValue = 2.0, v_c: ParamValue = 0.8, a0: ParamValue = 1.0,
                 v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0, v_rest: ParamValue = -0.1,
                 a: ParamValue = 1.0, b: ParamValue = 0.1, tau_w: ParamValue = 2.0,
                 surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str = "torch", store_v_seq: bool = False) -> None:
        super().__init__(builtin.IZHIKEVICH, {"tau": tau, "v_c": v_c, "a0": a0, "v_rest": v_rest, "a": a, "b": b,
                                              "tau_w": tau_w},
                         lower_bounds={**_TAU, "tau_w": 1.0}, v_threshold=v_threshold, v_reset=v_reset,
                         surrogate_function=surrogate_function, detach_reset=detach_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=store_v_seq)


class KLIFNode(BaseNode):
    """K-based LIF (KLIF): H = ReLU(k·(LIF charge)) with learnable ``k`` (initial 1)."""

    def __init__(self, tau: ParamValue = 2.0, v_threshold: ParamValue = 1.0, v_reset: ParamValue | None = 0.0,
                 surrogate_function: SurrogateFunction | None = None, detach_reset: bool = False,
                 step_mode: str = "s", backend: str = "torch", store_v_seq: bool = False) -> None:
        super().__init__(builtin.KLIF, {"tau": tau, "k": 1.0}, learnable=("k",), lower_bounds=_TAU,
                         v_threshold=v_threshold, v_reset=v_reset, surrogate_function=surrogate_function,
                         detach_reset=detach_reset, step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)


class CUBALIFNode(BaseNode):
    """Current-based LIF with synaptic current state ``c`` (defaults as SpikingJelly: c_decay=0.5, v_decay=0.75,
    V_th=0.5, Rect surrogate). Decays are fractions lost per step, in [0, 1]."""

    default_surrogate = Rect

    def __init__(self, c_decay: ParamValue = 0.5, v_decay: ParamValue = 0.75, v_threshold: ParamValue = 0.5,
                 v_reset: ParamValue | None = 0.0, surrogate_function: SurrogateFunction | None = None,
                 detach_reset: bool = False, step_mode: str = "s", backend: str = "torch",
                 store_v_seq: bool = False) -> None:
        for name, d in (("c_decay", c_decay), ("v_decay", v_decay)):
            t = torch.as_tensor(d, dtype=torch.get_default_dtype())
            if t.device.type != "meta" and not ((t >= 0) & (t <= 1)).all():  # meta: no values to check
                raise ValueError(f"CUBALIFNode: {name} must be in [0, 1], got {d}")
        super().__init__(builtin.CUBA_LIF, {"c_decay": c_decay, "v_decay": v_decay}, v_threshold=v_threshold,
                         v_reset=v_reset, surrogate_function=surrogate_function, detach_reset=detach_reset,
                         step_mode=step_mode, backend=backend, store_v_seq=store_v_seq)


class NonSpikingLIFNode(LIFNode):
    """A LIF membrane that never fires (infinite threshold, so the spike and reset terms vanish); outputs V.

    Use it as a readout: ``[T, N, C]`` input → ``[T, N, C]`` membrane potentials in ``'m'`` mode.
    """

    def __init__(self, tau: ParamValue = 2.0, decay_input: bool = True, v_reset: ParamValue = 0.0,
                 step_mode: str = "s", backend: str = "torch") -> None:
        if v_reset is None:
            raise ValueError("NonSpikingLIFNode: v_reset is the resting potential here and cannot be None")
        super().__init__(tau, decay_input, v_threshold=math.inf, v_reset=v_reset, step_mode=step_mode,
                         backend=backend, store_v_seq=True)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        super().single_step_forward(x)
        return self.v

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        super().multi_step_forward(x_seq)
        return self.v_seq


class LIAFNode(LIFNode):
    """Leaky integrate and analog fire: LIF dynamics (spikes drive the reset) but the output is ``act(H)`` or, with
    ``threshold_related``, ``act(H − V_th)``.

    Multi-step mode loops the single-step function (H is needed at every step; the fused op does not expose it).
    """

    def __init__(self, act: Callable[[torch.Tensor], torch.Tensor], threshold_related: bool, *args, **kwargs) -> None:
        if kwargs.get("backend", "torch") != "torch":
            raise ValueError("LIAFNode supports only backend='torch'")
        super().__init__(*args, **kwargs)
        self.act = act
        self.threshold_related = bool(threshold_related)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.advance(x)[1]
        return self.act(h - self.v_threshold.to(h.dtype) if self.threshold_related else h)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() < 2:
            raise StepModeError(f"LIAFNode in step_mode='m' needs input [T, N, *], got shape {tuple(x_seq.shape)}")
        return torch.stack([self.single_step_forward(x) for x in x_seq])
