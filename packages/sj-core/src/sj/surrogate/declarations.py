"""Surrogate-gradient declarations: each surrogate's derivative (and primitive) as a symbolic expression of ``z``.

``z`` is ``h − v_threshold``. The forward spike is always Θ(z) (1 where z ≥ 0); the backward uses ``derivative``.
``primitive`` is the smooth function whose derivative is ``derivative`` (used when ``spiking=False``); ``None`` when
the surrogate has none. Kernel backends generate code from these expressions, so a surrogate declared here works on
every backend that supports generated surrogates: there is no per-backend id table to forget.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from sj.decl_registry import DeclarationError, DeclRegistry


@dataclass(frozen=True)
class SurrogateDecl:
    """One surrogate function.

    Args:
        name: registry name (the surrogate class name for built-ins).
        params: parameter names, in the order backends receive them.
        defaults: default values of ``params`` (SpikingJelly's).
        derivative: expression of dg/dz in ``z`` and ``params``.
        primitive: expression of g(z), or ``None``.
    """

    name: str
    params: tuple[str, ...]
    defaults: tuple[float, ...]
    derivative: str
    primitive: str | None = None
    _hash: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.params) != len(self.defaults):
            raise DeclarationError(f"surrogate {self.name!r}: {len(self.params)} params, {len(self.defaults)} defaults")
        payload = json.dumps([self.name, self.params, self.derivative, self.primitive])
        object.__setattr__(self, "_hash", hashlib.sha256(payload.encode()).hexdigest()[:16])

    @property
    def content_hash(self) -> str:
        return self._hash


surrogates: DeclRegistry[SurrogateDecl] = DeclRegistry("surrogate")

_BUILTIN = [
    # Primitives are written so that no branch overflows or divides by zero anywhere: torch.where evaluates and
    # differentiates both branches, and an inf in the unused one makes the gradient NaN (0·inf). A branch's argument
    # is clamped inside the other branch's region (Max(z, −1) in the z ≥ 0 branch; Abs would zero the slope at
    # z = 0) and σ is written with tanh.
    SurrogateDecl("Sigmoid", ("alpha",), (4.0,), "alpha * sigmoid(alpha * z) * (1 - sigmoid(alpha * z))",
                  "(1 + tanh(alpha * z / 2)) / 2"),
    SurrogateDecl("ATan", ("alpha",), (2.0,), "alpha / 2 / (1 + (pi / 2 * alpha * z)**2)",
                  "atan(pi / 2 * alpha * z) / pi + 1/2"),
    SurrogateDecl("PiecewiseQuadratic", ("alpha",), (1.0,),
                  "Piecewise((0, Abs(z) > 1 / alpha), (-alpha**2 * Abs(z) + alpha, True))",
                  "Piecewise((0, z < -1 / alpha), (1, z > 1 / alpha), (-alpha**2 / 2 * z * Abs(z) + alpha * z + 1/2,"
                  " True))"),
    SurrogateDecl("PiecewiseExp", ("alpha",), (1.0,), "alpha / 2 * exp(-alpha * Abs(z))",
                  "Piecewise((exp(alpha * Min(z, 0)) / 2, z < 0), (1 - exp(-alpha * Max(z, -1)) / 2, True))"),
    SurrogateDecl("SoftSign", ("alpha",), (2.0,), "alpha / (2 * (1 + Abs(alpha * z))**2)",
                  "(alpha * z / (1 + Abs(alpha * z)) + 1) / 2"),
    # SpikingJelly's SuperSpike has no primitive (its primitive_function raises NotImplementedError); sj adds the
    # primitive that integrates the derivative α/(|z|+1)² (g(0) = 1/2).
    SurrogateDecl("SuperSpike", ("alpha",), (1.0,), "alpha / (Abs(z) + 1)**2",
                  "Piecewise((alpha / (1 - Min(z, 0)) - alpha + 1/2, z < 0),"
                  " (alpha * (1 - 1 / (1 + Max(z, -1/2))) + 1/2, True))"),
    SurrogateDecl("Erf", ("alpha",), (2.0,), "alpha / sqrt(pi) * exp(-alpha**2 * z**2)", "(1 + erf(alpha * z)) / 2"),
    SurrogateDecl("Rect", ("alpha",), (1.0,), "Piecewise((alpha, Abs(z) < 1 / (2 * alpha)), (0, True))",
                  "Piecewise((0, alpha * z + 1/2 < 0), (1, alpha * z + 1/2 > 1), (alpha * z + 1/2, True))"),
    SurrogateDecl("PiecewiseLeakyReLU", ("w", "c"), (1.0, 0.01),
                  "Piecewise((1 / (2 * w), Abs(z) < w), (c, True))",
                  "Piecewise((c * z + c * w, z < -w), (c * z - c * w + 1, z > w), (z / (2 * w) + 1/2, True))"),
    # SpikingJelly's primitive uses log(|z+1| + 1e-5) for z ≥ 0; sj uses log(z + 1), whose derivative is exactly
    # the declared β/(z+1).
    SurrogateDecl("S2NN", ("alpha", "beta"), (4.0, 1.0),
                  "Piecewise((alpha * sigmoid(alpha * z) * (1 - sigmoid(alpha * z)), z < 0), (beta / (z + 1), True))",
                  "Piecewise(((1 + tanh(alpha * z / 2)) / 2, z < 0), (beta * log(Max(z, -1/2) + 1) + 1/2, True))"),
    SurrogateDecl("QPseudoSpike", ("alpha",), (2.0,), "(1 + 2 / (alpha - 1) * Abs(z))**(-alpha)",
                  "Piecewise(((1 - 2 * Min(z, 0) / (alpha - 1))**(1 - alpha) / 2, z < 0),"
                  " (1 - (1 + 2 * Max(z, (1 - alpha) / 4) / (alpha - 1))**(1 - alpha) / 2, True))"),
    SurrogateDecl("LeakyKReLU", ("leak", "k"), (0.0, 1.0), "Piecewise((k, z >= 0), (leak, True))",
                  "Piecewise((k * z, z >= 0), (leak * z, True))"),
    # (2Θ(z) − 1)/z = 1/|z|, also at z = −0.0 (where SpikingJelly's form gives −inf).
    SurrogateDecl("FakeNumericalGradient", ("alpha",), (0.3,), "Min(1 / Abs(z), alpha)", None),
    SurrogateDecl("LogTailedReLU", ("alpha",), (0.0,), "Piecewise((alpha, z <= 0), (1, z <= 1), (1 / z, True))",
                  "Piecewise((alpha * z, z <= 0), (z, z <= 1), (log(Max(z, 1)) + 1, True))"),
    SurrogateDecl("NonzeroSignLogAbs", ("alpha",), (1.0,), "1 / (1 / alpha + Abs(z))",
                  "Piecewise((log(alpha * Max(z, -1 / (2 * alpha)) + 1), z >= 0),"
                  " (-log(1 - alpha * Min(z, 0)), True))"),
    # straight-through: Θ forward, identity backward; its primitive is the identity
    SurrogateDecl("DeterministicPass", (), (), "1", "z"),
]
#: Names of the built-in surrogates, in declaration order.
BUILTIN_SURROGATES = tuple(d.name for d in _BUILTIN)
for _d in _BUILTIN:
    surrogates.register(_d)
