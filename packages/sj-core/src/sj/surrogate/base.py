"""SpikingJelly's surrogate protocol: ``SurrogateFunctionBase`` with checked parameters.

A surrogate module holds named parameters (``alpha``, ...) and a ``spiking`` flag; ``forward`` applies
``spiking_function(x, **params)`` (a spike forward with a surrogate backward) or ``primitive_function(x, **params)``
(the smooth function whose derivative is the surrogate gradient). Parameters are checked on every path that sets
them — construction and attribute assignment — so a value the constructor refuses can never be set later.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import torch
from torch import nn


def check_parameter(owner: str, name: str, value: Any, lower: float | None = None) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real number (or a tensor of them) ``> lower``.

    ``lower=None``: any finite value. Booleans are refused (``alpha=True`` is a mistake, not 1.0).
    """
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            bad = not bool(torch.isfinite(value).all())
        else:
            bad = value.dtype == torch.bool
        if bad or (lower is not None and not bool((value > lower).all())):
            raise ValueError(f"{owner}: {name} must be finite" + (f" and > {lower}" if lower is not None else "")
                             + f", got {value}")
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, got {value!r}")
    if lower is not None and not value > lower:
        raise ValueError(f"{owner}: {name} must be > {lower}, got {value}")


class SurrogateFunctionBase(nn.Module):
    """Base of every surrogate module (SpikingJelly's protocol).

    Args:
        spiking: ``True`` → ``spiking_function`` (spike forward, surrogate backward); ``False`` →
            ``primitive_function`` (the smooth primitive).
        **kwargs: the surrogate's parameters; each becomes an attribute, checked by :meth:`check_parameter`
            (finite, and above ``bounds[name]`` where the class declares a bound).

    Subclasses define ``spiking_function(x, **params)`` and ``primitive_function(x, **params)`` (static methods, as in
    SpikingJelly) or override ``forward``. ``bounds`` maps a parameter name to its exclusive lower bound.
    """

    bounds: ClassVar[dict[str, float]] = {}

    def __init__(self, spiking: bool = True, **kwargs: Any) -> None:
        super().__init__()
        self.spiking = spiking
        self._sg_param_names = tuple(kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)

    def check_parameter(self, name: str, value: Any) -> None:
        """Raise ``ValueError`` naming the class if ``value`` is not allowed for parameter ``name``."""
        check_parameter(type(self).__name__, name, value, self.bounds.get(name))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "spiking":
            if not isinstance(value, (bool, int)):
                raise TypeError(f"{type(self).__name__}: spiking must be a bool, got {value!r}")
            value = bool(value)
            self._check_spiking(value)
        elif name in self.__dict__.get("_sg_param_names", ()):
            value = self._accept_parameter(name, value)
        super().__setattr__(name, value)

    def _accept_parameter(self, name: str, value: Any) -> Any:
        """The value to store for parameter ``name`` (after :meth:`check_parameter`)."""
        self.check_parameter(name, value)
        return value

    def _check_spiking(self, spiking: bool) -> None:
        """Refuse a mode the surrogate cannot run (overridden where there is no primitive)."""

    def set_spiking_mode(self, spiking: bool) -> None:
        """Switch between the spiking forward (``True``) and the primitive (``False``)."""
        self.spiking = spiking

    @property
    def _sg_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._sg_param_names}

    def extra_repr(self) -> str:
        return ", ".join([*(f"{k}={v}" for k, v in self._sg_params.items()), f"spiking={self.spiking}"])

    @staticmethod
    def spiking_function(x: torch.Tensor, **params: Any) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def primitive_function(x: torch.Tensor, **params: Any) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return self.spiking_function(x, **self._sg_params)
        return self.primitive_function(x, **self._sg_params)
