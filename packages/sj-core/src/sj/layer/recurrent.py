"""Recurrent containers: feed a module's previous output back into its input (memory ``y``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from sj.base import MemoryModule, check_state_recordable
from sj.layer.container import _check_children_single_step


class _RecurrentBase(MemoryModule):
    """``y[t] = sub_module(combine(x[t], y[t−1]))`` with ``y[−1] = 0``; 'm' loops the single step."""

    keeps_children_step_mode = True  # functional.set_step_mode leaves the single-step sub-module alone

    def __init__(self, sub_module: nn.Module, step_mode: str) -> None:
        super().__init__(step_mode)
        if not isinstance(sub_module, nn.Module):
            raise TypeError(f"{type(self).__name__}: sub_module must be an nn.Module, got {type(sub_module).__name__}")
        self.sub_module = sub_module
        self.register_memory("y", None)

    def combine(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_children_single_step(self)
        check_state_recordable(type(self).__name__, "y", self.y, x, *self.parameters())
        self.y = self.sub_module(self.combine(x, self.y))
        return self.y


class ElementWiseRecurrentContainer(_RecurrentBase):
    """``y[t] = sub_module(f(y[t−1], x[t]))`` with an element-wise ``f`` (e.g. ``lambda y, x: x + y``).

    Args:
        sub_module: a single-step module whose output has the shape of its input.
        element_wise_function: ``f(y_prev, x)``; ``y_prev`` starts as zeros shaped like ``x``.
        step_mode: ``'s'`` (``[N, *]``) or ``'m'`` (``[T, N, *]``).
    """

    def __init__(self, sub_module: nn.Module, element_wise_function: Callable[[torch.Tensor, torch.Tensor],
                 torch.Tensor], step_mode: str = "s") -> None:
        super().__init__(sub_module, step_mode)
        self.element_wise_function = element_wise_function

    def combine(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if y is None:
            y = torch.zeros_like(x)
        elif y.shape != x.shape:
            raise ValueError(f"ElementWiseRecurrentContainer: the previous output has shape {tuple(y.shape)} but the "
                             f"input has {tuple(x.shape)}; the sub-module must keep the shape (or reset the net)")
        return self.element_wise_function(y, x)

    def extra_repr(self) -> str:
        return f"element-wise function={self.element_wise_function}, step_mode={self.step_mode}"


class LinearRecurrentContainer(_RecurrentBase):
    """``y[t] = sub_module(W·[x[t], y[t−1]] + b)``, ``W`` a learnable ``Linear(in + out → in)``.

    Args:
        sub_module: a single-step module mapping ``[N, in_features]`` → ``[N, out_features]``.
        in_features, out_features: feature sizes of ``x`` and ``y``.
        bias: whether the recurrent linear map has a bias. Default ``True``.
    """

    def __init__(self, sub_module: nn.Module, in_features: int, out_features: int, bias: bool = True,
                 step_mode: str = "s") -> None:
        super().__init__(sub_module, step_mode)
        self.in_features, self.out_features = in_features, out_features
        self.rc = nn.Linear(in_features + out_features, in_features, bias)

    def combine(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"LinearRecurrentContainer: expected input [..., {self.in_features}], got "
                             f"{tuple(x.shape)}")
        if y is None:
            y = torch.zeros(*x.shape[:-1], self.out_features, device=x.device, dtype=x.dtype)
        return self.rc(torch.cat((x, y), dim=-1))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, step_mode={self.step_mode}"
