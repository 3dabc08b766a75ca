"""The configuration of one multi-step call, as backends receive it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sj.neuron.declaration import NeuronDecl


@dataclass(frozen=True)
class MultiStepSpec:
    """Neuron, surrogate and reset configuration of a multi-step call (hashable: backends key caches on it).

    Attributes:
        neuron: registered neuron declaration name (:mod:`sj.neuron.declaration`).
        surrogate: registered surrogate declaration name (:mod:`sj.surrogate.declarations`).
        surrogate_params: the surrogate's parameter values in declaration order.
        soft_reset: ``True`` → V = H − V_th·S; ``False`` → V = H(1 − S) + V_reset·S.
        detach_reset: the spike is detached inside the reset (and the post updates).
        store_v_seq: the call returns V after every step, not only the last.
    """

    neuron: str
    surrogate: str
    surrogate_params: tuple[float, ...]
    soft_reset: bool
    detach_reset: bool
    store_v_seq: bool

    # Plain properties over memoised lookups: functools.cached_property takes an RLock on Python 3.11, which
    # torch.compile cannot trace.
    @property
    def decl(self) -> NeuronDecl:
        from sj.neuron import declaration  # lazily: sj.neuron imports sj.ops

        return declaration.get(self.neuron)

    @property
    def program(self) -> dict:
        """The neuron's derived programs for this reset mode (see :func:`sj.neuron.derive.derive_neuron`)."""
        from sj.neuron.derived import neuron_program

        return neuron_program(self.neuron, self.soft_reset, self.detach_reset)

    @property
    def surrogate_program(self) -> dict:
        """The surrogate's derived programs (see :func:`sj.neuron.derive.derive_surrogate`)."""
        from sj.neuron.derived import surrogate_program

        return surrogate_program(self.surrogate)

    def describe(self) -> str:
        reset = "soft" if self.soft_reset else "hard"
        return (f"neuron {self.neuron!r} with surrogate {self.surrogate}{self.surrogate_params}, {reset} reset"
                f"{', detach_reset' if self.detach_reset else ''}")
