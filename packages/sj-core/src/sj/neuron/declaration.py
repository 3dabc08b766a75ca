"""Neuron declarations: the dynamics of a neuron written once, as symbolic expressions in strings.

A declaration says how one time step charges the membrane; firing and reset are the same for every neuron
(SpikingJelly's semantics)::

    pre updates   a_i <- f_i(x, v, a, θ)            (in order, each sees the latest values)
    charge        h   =  charge(x, v, a, θ)
    fire          s   =  Θ(h − v_threshold)          (surrogate gradient in backward)
    post updates  a_i <- g_i(x, h, s, a, θ)          (s detached here when detach_reset)
    reset         v   =  h·(1 − s) + v_reset·s       (hard)   or   h − v_threshold·s   (soft)

``x`` is the input, ``v`` the membrane potential, ``a`` the auxiliary states (``aux_states``, e.g. an adaptation
current) and ``θ`` the parameters: ``v_threshold``, ``v_reset`` and the neuron's own ``params``. Expressions are
sympy syntax (``exp``, ``log``, ``atan``, ``tanh``, ``erf``, ``Abs``, ``sign``, ``Max``, ``Min``, ``Piecewise``,
``sigmoid``, ``pi``). Nothing is parsed at import: the derivation (forward program, backward-through-time program,
what backward must save) happens on first use and is cached (see :mod:`sj.neuron.derived`).

Declaring a neuron registers it under its ``name``; backends receive the name and look the declaration up here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from sj.decl_registry import DeclarationError, DeclRegistry

#: Parameters every declared neuron has, first in its parameter list.
BASE_PARAMS = ("v_threshold", "v_reset")
RESERVED = frozenset({"x", "v", "h", "s", "z", "sg", *BASE_PARAMS})
# Prefixes of names the derivation and the code generators create (CSE temporaries, gradients, surrogate parameters,
# recomputed previous-step values): a user name starting with one could silently alias a generated one.
RESERVED_PREFIXES = ("cse", "grad_", "sp_", "sgc", "sjr_")


@dataclass(frozen=True)
class NeuronDecl:
    """The dynamics of one neuron model.

    Args:
        name: unique registry name (e.g. ``"lif"``); backends receive it.
        charge: expression of the charged potential ``h`` before firing.
        params: the neuron's own parameter names (besides ``v_threshold`` and ``v_reset``), in op order.
        aux_states: auxiliary state names besides ``v`` (initialised to 0 unless the module says otherwise).
        pre: ``(state, expression)`` updates of auxiliary states before the charge.
        post: ``(state, expression)`` updates of auxiliary states after firing (may use ``h`` and ``s``).
        doc: one line shown in docs and errors.
    """

    name: str
    charge: str
    params: tuple[str, ...] = ()
    aux_states: tuple[str, ...] = ()
    pre: tuple[tuple[str, str], ...] = ()
    post: tuple[tuple[str, str], ...] = ()
    doc: str = ""
    _hash: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise DeclarationError(f"neuron name must be an identifier, got {self.name!r}")
        names = list(self.params) + list(self.aux_states)
        for n in names:
            if not n.isidentifier() or n in RESERVED or n.startswith(RESERVED_PREFIXES) or any(
                    re.fullmatch(rf"{re.escape(a)}_\d+", n) for a in self.aux_states):
                raise DeclarationError(f"neuron {self.name!r}: {n!r} is not a usable parameter/state name "
                                       f"(reserved: {sorted(RESERVED)}, prefixes {RESERVED_PREFIXES}, and "
                                       "<aux state>_<number>)")
        if len(set(names)) != len(names):
            raise DeclarationError(f"neuron {self.name!r}: duplicate names in params/aux_states {names}")
        for stage, updates in (("pre", self.pre), ("post", self.post)):
            for target, _ in updates:
                if target not in self.aux_states:
                    raise DeclarationError(f"neuron {self.name!r}: {stage} update targets {target!r}, which is not "
                                           f"an aux state {list(self.aux_states)}")
        payload = json.dumps([self.name, self.charge, self.params, self.aux_states, self.pre, self.post])
        object.__setattr__(self, "_hash", hashlib.sha256(payload.encode()).hexdigest()[:16])

    @property
    def param_names(self) -> tuple[str, ...]:
        """All parameters in op order: ``v_threshold``, ``v_reset``, then :attr:`params`."""
        return BASE_PARAMS + self.params

    @property
    def state_names(self) -> tuple[str, ...]:
        """All states in op order: ``v`` first, then :attr:`aux_states`."""
        return ("v", *self.aux_states)

    @property
    def content_hash(self) -> str:
        """Hash of the declaration's content: the key of every derived or compiled artefact."""
        return self._hash


neurons: DeclRegistry[NeuronDecl] = DeclRegistry("neuron")
register = neurons.register
get = neurons.get


def declare(name: str, charge: str, *, params: tuple[str, ...] = (), aux_states: tuple[str, ...] = (),
            pre: tuple[tuple[str, str], ...] = (), post: tuple[tuple[str, str], ...] = (), doc: str = ""
            ) -> NeuronDecl:
    """Build and register a :class:`NeuronDecl` (the usual way to define a custom neuron)."""
    return register(NeuronDecl(name, charge, tuple(params), tuple(aux_states), tuple(map(tuple, pre)),
                               tuple(map(tuple, post)), doc))
