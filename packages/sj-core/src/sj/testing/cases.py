"""The conformance cases: neurons × surrogates × reset modes × detach × store_v_seq × dtypes × odd shapes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from sj.neuron.builtin import BUILTIN_NEURONS
from sj.neuron.declaration import declare
from sj.surrogate.declarations import BUILTIN_SURROGATES

# A user-style declaration (not built in) so every backend proves it handles neurons it has never seen.
#: A user-style declared neuron (tanh feedback) every backend must run like the built-ins.
CUSTOM_NEURON = declare("sj_testing_tanh_lif", "v + (x - v) / tau + gain * tanh(v - v_reset)",
                        params=("tau", "gain"), doc="conformance-kit custom neuron")

# Parameter values (scalar case) and the spread used for per-neuron values; all inside each model's valid range.
PARAMS: dict[str, dict[str, float]] = {
    "if_": {},
    "lif": {"tau": 2.0},
    "lif_nodecay": {"tau": 2.0},
    "plif": {"w": 0.25},
    "plif_nodecay": {"w": -0.25},
    "qif": {"tau": 2.0, "v_c": 0.8, "a0": 1.0, "v_rest": 0.0},
    "eif": {"tau": 2.0, "delta_T": 1.0, "theta_rh": 0.8, "v_rest": 0.0},
    "izhikevich": {"tau": 2.0, "v_c": 0.8, "a0": 1.0, "v_rest": -0.1, "a": 1.0, "b": 0.1, "tau_w": 2.0},
    "klif": {"tau": 2.0, "k": 1.25},
    "klif_nodecay": {"tau": 2.0, "k": 0.75},
    "cuba_lif": {"c_decay": 0.5, "v_decay": 0.75},
    "raf": {"decay_cos": 0.5, "decay_sin": 0.625},
    CUSTOM_NEURON.name: {"tau": 2.0, "gain": 0.125},
}
# Neurons whose dynamics grow fast (quadratic/exponential) get smaller inputs so 8 steps stay finite.
INPUT_SCALE = {"qif": 0.5, "eif": 0.5, "izhikevich": 0.5}

SHAPES = ((8, 37), (1, 5), (4, 3, 7), (6, 2, 129), (3, 1023))


@dataclass(frozen=True)
class ConformanceCase:
    """One configuration to compare against the reference.

    ``shape`` is ``(T, *S)``. ``per_neuron`` gives every parameter a distinct value per neuron (tensor of shape
    ``S``) instead of a scalar; ``noncontiguous`` makes the input and the upstream gradients strided views;
    ``unused_last`` leaves the last states out of the loss, so their gradients reach the backend as ``None``.
    """

    neuron: str
    surrogate: str
    soft_reset: bool
    detach_reset: bool
    store_v_seq: bool
    dtype: torch.dtype
    shape: tuple[int, ...]
    per_neuron: bool
    noncontiguous: bool
    seed: int
    param_values: tuple[tuple[str, float], ...] = ()
    unused_last: bool = False

    def __str__(self) -> str:
        dt = str(self.dtype).replace("torch.", "")
        flags = "".join(f for f, on in (("soft", self.soft_reset), ("-detach", self.detach_reset),
                                        ("-vseq", self.store_v_seq), ("-pn", self.per_neuron),
                                        ("-nc", self.noncontiguous), ("-nolast", self.unused_last)) if on) or "hard"
        return f"{self.neuron}-{self.surrogate}-{flags}-{dt}-{'x'.join(map(str, self.shape))}"


# Surrogates whose derivative jumps, and neurons whose charge has a kink (klif's ReLU). A backend that saves H in
# 16 bits hands backward a rounded H, which can sit on the other side of a jump than the float64 reference's exact H;
# that element's gradient then differs by the jump, which no tolerance covers (seen: on an H200 with the cupy and
# triton backends, and on the cpu backend). See gradient_may_jump.
#: Surrogates whose derivative jumps: compared away from the jumps.
JUMP_SURROGATES = ("Rect", "PiecewiseLeakyReLU", "LeakyKReLU", "LogTailedReLU")
#: Neurons whose update has a jump: compared away from it.
JUMP_NEURONS = ("klif", "klif_nodecay")
#: The half-precision dtypes a backend may support.
HALF_DTYPES = (torch.float16, torch.bfloat16)


def gradient_may_jump(case: ConformanceCase) -> bool:
    """Whether ``case``'s gradients may legitimately differ from the reference by a derivative's jump: a 16-bit case
    with a surrogate in :data:`JUMP_SURROGATES` or a neuron in :data:`JUMP_NEURONS`. Check such a case with
    ``check_case(..., gradients=False)`` (forward only); its gradients are compared in float32/float64."""
    return case.dtype in HALF_DTYPES and (case.surrogate in JUMP_SURROGATES or case.neuron in JUMP_NEURONS)


def conformance_cases(*, neurons: list[str] | None = None, surrogates: list[str] | None = None,
                      dtypes: tuple[torch.dtype, ...] = (torch.float32, torch.float64), exhaustive: bool = False,
                      max_T: int = 8, max_numel: int = 1024,
                      param_values: dict[str, float] | None = None) -> list[ConformanceCase]:
    """The cases a backend must pass.

    Default (covering) set: every neuron × every surrogate once, with reset/detach/store/dtype/shape/per-neuron/
    strided/unused-last-state options cycling; plus every neuron × all 8 reset/detach/store combinations × every
    dtype. Each option value is thereby paired with every neuron and every surrogate. ``exhaustive=True`` takes the
    full product instead (large). ``neurons`` defaults to the built-ins plus :data:`CUSTOM_NEURON`; ``surrogates`` to
    all built-ins. Shapes are cut to ``T <= max_T`` and ``numel(S) <= max_numel``. ``param_values`` gives values
    for the parameters of neurons the kit does not know (your own declarations), e.g. ``{"tau": 2.0}``.
    """
    pv = tuple(sorted((param_values or {}).items()))
    neurons = list(neurons) if neurons is not None else [*BUILTIN_NEURONS, CUSTOM_NEURON.name]
    surrogates = list(surrogates) if surrogates is not None else list(BUILTIN_SURROGATES)
    shapes = [s for s in SHAPES if s[0] <= max_T and _numel(s[1:]) <= max_numel] or [(min(4, max_T), 7)]
    combos = list(itertools.product((False, True), repeat=3))  # soft, detach, store_v_seq
    cases: list[ConformanceCase] = []
    if exhaustive:
        for i, (n, sg, (soft, det, store), dt, shp) in enumerate(
                itertools.product(neurons, surrogates, combos, dtypes, shapes)):
            cases.append(ConformanceCase(n, sg, soft, det, store, dt, shp, i % 2 == 0, i % 3 == 0, i, pv,
                                         unused_last=i % 5 == 2))
        return cases
    i = 0
    for n in neurons:
        for sg in surrogates:
            soft, det, store = combos[i % len(combos)]
            cases.append(ConformanceCase(n, sg, soft, det, store, dtypes[i % len(dtypes)], shapes[i % len(shapes)],
                                         i % 3 == 0, i % 4 == 1, i, pv, unused_last=i % 5 == 2))
            i += 1
        for (soft, det, store), dt in itertools.product(combos, dtypes):
            sg = surrogates[i % len(surrogates)]
            cases.append(ConformanceCase(n, sg, soft, det, store, dt, shapes[i % len(shapes)], i % 2 == 0,
                                         i % 3 == 0, i, pv, unused_last=i % 5 == 2))
            i += 1
    return cases


def _numel(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out
