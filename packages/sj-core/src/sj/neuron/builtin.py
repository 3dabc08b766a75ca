"""Declarations of the built-in neurons (SpikingJelly's charge equations; firing and reset are shared)."""

from __future__ import annotations

from sj.neuron.declaration import declare

IF = declare("if_", "v + x", doc="integrate-and-fire: H = V + X")
LIF = declare("lif", "v + (x - (v - v_reset)) / tau", params=("tau",),
              doc="leaky integrate-and-fire, decay_input=True: H = V + (X − (V − V_reset))/τ")
LIF_NO_DECAY_INPUT = declare("lif_nodecay", "v - (v - v_reset) / tau + x", params=("tau",),
                             doc="leaky integrate-and-fire, decay_input=False: H = V − (V − V_reset)/τ + X")
PLIF = declare("plif", "v + (x - (v - v_reset)) * sigmoid(w)", params=("w",),
               doc="parametric LIF, decay_input=True: H = V + (X − (V − V_reset))·σ(w), τ = 1/σ(w)")
PLIF_NO_DECAY_INPUT = declare("plif_nodecay", "v - (v - v_reset) * sigmoid(w) + x", params=("w",),
                              doc="parametric LIF, decay_input=False: H = V − (V − V_reset)·σ(w) + X")
QIF = declare("qif", "v + (x + a0 * (v - v_rest) * (v - v_c)) / tau", params=("tau", "v_c", "a0", "v_rest"),
              doc="quadratic integrate-and-fire: H = V + (X + a0(V − V_rest)(V − V_c))/τ")
EIF = declare("eif", "v + (x + v_rest - v + delta_T * exp((v - theta_rh) / delta_T)) / tau",
              params=("tau", "delta_T", "theta_rh", "v_rest"),
              doc="exponential integrate-and-fire: H = V + (X + V_rest − V + Δ_T·exp((V − θ_rh)/Δ_T))/τ")
IZHIKEVICH = declare("izhikevich", "v + (x + a0 * (v - v_rest) * (v - v_c) - w) / tau",
                     params=("tau", "v_c", "a0", "v_rest", "a", "b", "tau_w"), aux_states=("w",),
                     post=(("w", "w + (a * (h - v_rest) - w) / tau_w + b * s"),),
                     doc="Izhikevich: H = V + (X + a0(V − V_rest)(V − V_c) − W)/τ; "
                         "W ← W + (a(H − V_rest) − W)/τ_w + b·S")
KLIF = declare("klif", "Max(0, k * (v + (x - (v - v_reset)) / tau))", params=("tau", "k"),
               doc="k-based LIF, decay_input=True: H = ReLU(k·(V + (X − (V − V_reset))/τ)), k learnable")
KLIF_NO_DECAY_INPUT = declare("klif_nodecay", "Max(0, k * (v - (v - v_reset) / tau + x))", params=("tau", "k"),
                              doc="k-based LIF, decay_input=False: H = ReLU(k·(V − (V − V_reset)/τ + X))")
CUBA_LIF = declare("cuba_lif", "v * v_decay + c", params=("c_decay", "v_decay"), aux_states=("c",),
                   pre=(("c", "c * c_decay + x"),),
                   doc="current-based LIF (SpikingJelly 2.0): C ← C·c_decay + X; H = V·v_decay + C")
# The resonate-and-fire neuron's rotation e^{b·dt}·(cos ω·dt, sin ω·dt) enters as two parameters (the module computes
# them from b, ω and dt): the generated kernels need no trigonometry. Both updates read the previous U and V.
RAF = declare("raf", "decay_sin * u + decay_cos * v", params=("decay_cos", "decay_sin"), aux_states=("u",),
              post=(("u", "decay_cos * u - decay_sin * v + x"),),
              doc="resonate-and-fire: H = e^{b·dt}(U·sin ω·dt + V·cos ω·dt); U ← e^{b·dt}(U·cos ω·dt − V·sin ω·dt) + X")

BUILTIN_NEURONS = tuple(d.name for d in (IF, LIF, LIF_NO_DECAY_INPUT, PLIF, PLIF_NO_DECAY_INPUT, QIF, EIF,
                                         IZHIKEVICH, KLIF, KLIF_NO_DECAY_INPUT, CUBA_LIF, RAF))
