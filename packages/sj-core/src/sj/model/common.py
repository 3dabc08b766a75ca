"""What every zoo model shares: building its spiking neurons from ``neuron=`` and ``surrogate=``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from torch import nn

from sj.base import StepModule
from sj.functional import set_step_mode
from sj.surrogate import SurrogateFunction

NeuronArg = Callable[..., nn.Module]
SurrogateArg = SurrogateFunction | type[SurrogateFunction] | None


class NeuronFactory:
    """Builds one fresh neuron per call: ``neuron(surrogate_function=<fresh surrogate>, step_mode='m', **kwargs)``.

    Args:
        neuron: a neuron class (e.g. :class:`sj.neuron.LIFNode`) or any callable taking keyword arguments and
            returning a module.
        surrogate: a surrogate instance (deep-copied per neuron), a surrogate class (instantiated per neuron) or
            ``None`` (the neuron's default).
        kwargs: further neuron arguments (``tau``, ``detach_reset``, ``v_threshold``, ``backend``, ...).
    """

    def __init__(self, neuron: NeuronArg, surrogate: SurrogateArg = None, **kwargs: Any) -> None:
        if not callable(neuron):
            raise TypeError(f"neuron must be a neuron class or a callable returning a module, got {neuron!r}")
        if surrogate is not None and not isinstance(surrogate, SurrogateFunction) and not (
                isinstance(surrogate, type) and issubclass(surrogate, SurrogateFunction)):
            raise TypeError(f"surrogate must be an sj.surrogate.SurrogateFunction instance or class, got {surrogate!r}")
        if "step_mode" in kwargs or "surrogate_function" in kwargs:
            raise TypeError("zoo models are multi-step: pass surrogate= instead of surrogate_function=, and no "
                            "step_mode")
        self.neuron, self.surrogate, self.kwargs = neuron, surrogate, kwargs

    def __call__(self, **overrides: Any) -> nn.Module:
        kw = {**self.kwargs, **overrides}
        if self.surrogate is not None:
            kw["surrogate_function"] = (copy.deepcopy(self.surrogate) if isinstance(self.surrogate, SurrogateFunction)
                                        else self.surrogate())
        m = self.neuron(**kw)
        if not isinstance(m, nn.Module):
            raise TypeError(f"neuron factory {self.neuron!r} returned {type(m).__name__}, not an nn.Module")
        return m


def multi_step(model: nn.Module) -> nn.Module:
    """Put every step-mode module of ``model`` in ``'m'`` (input ``[T, N, *]``) and return it."""
    if any(isinstance(m, StepModule) for m in model.modules()):
        set_step_mode(model, "m")
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (learnable and frozen)."""
    return sum(p.numel() for p in model.parameters())
