"""Few-spikes neurons (FS, SpikingJelly 2.0): an activation coded by K spikes with per-step thresholds θ, reset
amounts h and output weights d (a :class:`FewSpikeTable`, usually fitted to an ANN activation). No state across
calls: single-step mode takes the gate and returns the decoded value Σ d_k·z_k, multi-step mode takes K steps (summed
into the gate) and returns the K weighted spikes. Variants pick the table per element:
:class:`OutlierAwareThresholdNode` (by magnitude, signed) and :class:`HGNode` (by gate region)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from sj.base import StepModule
from sj.surrogate import Sigmoid

TensorLike1D = torch.Tensor | Sequence[float]


def _vector(name: str, value: TensorLike1D) -> torch.Tensor:
    t = torch.as_tensor(value)
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-D tensor or sequence, got shape {tuple(t.shape)}")
    if torch.is_complex(t):
        raise TypeError(f"{name} must be real-valued")
    t = t if t.is_floating_point() else t.to(torch.get_default_dtype())
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must contain only finite values")
    return t.detach().clone()


class FewSpikeTable:
    """The K-step code of a few-spikes neuron: thresholds ``theta``, reset amounts ``h``, output weights ``d``."""

    def __init__(self, theta: TensorLike1D, h: TensorLike1D, d: TensorLike1D) -> None:
        self.theta, self.h, self.d = _vector("theta", theta), _vector("h", h), _vector("d", d)
        if not self.theta.shape == self.h.shape == self.d.shape:
            raise ValueError(f"theta, h and d must have the same length, got {self.theta.numel()}, {self.h.numel()}, "
                             f"{self.d.numel()}")

    @property
    def K(self) -> int:
        return self.theta.numel()


def _check_table(name: str, table, K: int | None = None) -> None:
    if not isinstance(table, FewSpikeTable):
        raise TypeError(f"{name} must be a FewSpikeTable, got {type(table).__name__}")
    if K is not None and table.K != K:
        raise ValueError(f"{name}.K must be {K}, got {table.K}")


class FewSpikeNode(nn.Module, StepModule):
    """Few-spikes neuron: from the gate V, for k = 1..K: z_k = f(V − θ_k), out_k = d_k·z_k, V ← V − h_k·z_k.

    Args:
        table: the code. surrogate_function: spike function (default ``Sigmoid()``). step_mode: ``'s'`` (``[N, *]``
            → Σ_k out_k) or ``'m'`` (``[K, N, *]`` → ``[K, N, *]`` of out_k, the gate being the sum over steps).
    """

    def __init__(self, table: FewSpikeTable, surrogate_function: Callable | None = None, step_mode: str = "s") -> None:
        super().__init__()
        _check_table("table", table)
        self.register_buffer("theta", table.theta.clone())
        self.register_buffer("h", table.h.clone())
        self.register_buffer("d", table.d.clone())
        self.surrogate_function = Sigmoid() if surrogate_function is None else surrogate_function
        self.step_mode = step_mode

    @property
    def K(self) -> int:
        return self.theta.numel()

    def _run_table(self, gate: torch.Tensor, theta: Iterable, h: Iterable, d: Iterable, sequence: bool
                   ) -> torch.Tensor:
        v, outs = gate, []
        for theta_k, h_k, d_k in zip(theta, h, d):
            z = self.surrogate_function(v - theta_k)
            outs.append(d_k * z)
            v = v - h_k * z
        return torch.stack(outs) if sequence else sum(outs[1:], outs[0])

    def _forward_from_gate(self, gate: torch.Tensor, sequence: bool) -> torch.Tensor:
        return self._run_table(gate, self.theta, self.h, self.d, sequence)

    @staticmethod
    def _check_input(x, name: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be floating point, got {x.dtype}")

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The decoded value Σ_k d_k·z_k of gate ``x``."""
        self._check_input(x, "x")
        return self._forward_from_gate(x, sequence=False)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """The K weighted spikes ``[K, N, *]`` of the gate Σ_t x_seq[t] (``x_seq`` has exactly K steps)."""
        self._check_input(x_seq, "x_seq")
        if x_seq.dim() < 1 or x_seq.shape[0] != self.K:
            raise ValueError(f"x_seq.shape[0] must equal K={self.K}, got shape {tuple(x_seq.shape)}")
        return self._forward_from_gate(x_seq.sum(0), sequence=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.single_step_forward(x) if self.step_mode == "s" else self.multi_step_forward(x)

    def extra_repr(self) -> str:
        return f"K={self.K}, step_mode={self.step_mode}"


class OutlierAwareThresholdNode(FewSpikeNode):
    """Few-spikes on the gate's magnitude with its sign restored: elements whose magnitude is at most
    ``split_threshold`` use ``table``, the others ``outlier_table``; ``clamp_value`` clips the gate first."""

    def __init__(self, table: FewSpikeTable, outlier_table: FewSpikeTable, split_threshold: float,
                 clamp_value: float | None = None, surrogate_function: Callable | None = None,
                 step_mode: str = "s") -> None:
        _check_table("table", table)
        _check_table("outlier_table", outlier_table, table.K)
        split_threshold = float(split_threshold)
        if not math.isfinite(split_threshold) or split_threshold < 0:
            raise ValueError(f"split_threshold must be finite and >= 0, got {split_threshold}")
        if clamp_value is not None:
            clamp_value = float(clamp_value)
            if not math.isfinite(clamp_value) or clamp_value <= 0 or clamp_value < split_threshold:
                raise ValueError(f"clamp_value must be finite, > 0 and >= split_threshold, got {clamp_value}")
        super().__init__(table, surrogate_function, step_mode)
        ref = table.theta
        for name in ("theta", "h", "d"):
            self.register_buffer(f"outlier_{name}", getattr(outlier_table, name).to(ref.dtype).clone())
        self.split_threshold, self.clamp_value = split_threshold, clamp_value

    def _forward_from_gate(self, gate: torch.Tensor, sequence: bool) -> torch.Tensor:
        if self.clamp_value is not None:
            gate = gate.clamp(-self.clamp_value, self.clamp_value)
        sign, magnitude = torch.sign(gate).detach(), gate.abs()
        inner = magnitude <= self.split_threshold
        pick = lambda a, b: (torch.where(inner, x, y) for x, y in zip(a, b))  # noqa: E731
        out = self._run_table(magnitude, pick(self.theta, self.outlier_theta), pick(self.h, self.outlier_h),
                              pick(self.d, self.outlier_d), sequence)
        return out * (sign.unsqueeze(0) if sequence else sign)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", split_threshold={self.split_threshold}, clamp_value={self.clamp_value}"


class HGNode(FewSpikeNode):
    """Few-spikes with one table per gate region: ``gate_thresholds`` (strictly increasing, one fewer than
    ``tables``) split the gate into regions, each coded by its table."""

    def __init__(self, tables: Sequence[FewSpikeTable], gate_thresholds: TensorLike1D,
                 surrogate_function: Callable | None = None, step_mode: str = "s") -> None:
        if len(tables) == 0:
            raise ValueError("tables must contain at least one FewSpikeTable")
        for i, table in enumerate(tables):
            _check_table(f"tables[{i}]", table, tables[0].K if i else None)
        thresholds = torch.as_tensor(gate_thresholds)
        if thresholds.dim() != 1 or thresholds.numel() != len(tables) - 1:
            raise ValueError(f"gate_thresholds must be 1-D with len(tables) − 1 = {len(tables) - 1} values, got "
                             f"shape {tuple(thresholds.shape)}")
        if torch.is_complex(thresholds):
            raise TypeError("gate_thresholds must be real-valued")
        thresholds = thresholds.to(tables[0].theta.dtype)
        if not torch.isfinite(thresholds).all() or (thresholds[1:] <= thresholds[:-1]).any():
            raise ValueError("gate_thresholds must be finite and strictly increasing")
        nn.Module.__init__(self)
        self.surrogate_function = Sigmoid() if surrogate_function is None else surrogate_function
        self.step_mode = step_mode
        dtype = tables[0].theta.dtype
        for name in ("theta", "h", "d"):
            self.register_buffer(f"region_{name}", torch.stack([getattr(t, name).to(dtype) for t in tables]))
        self.register_buffer("gate_thresholds", thresholds)

    @property
    def K(self) -> int:
        return self.region_theta.shape[1]

    def _forward_from_gate(self, gate: torch.Tensor, sequence: bool) -> torch.Tensor:
        region = torch.bucketize(gate.detach(), self.gate_thresholds)
        per = lambda table: (table[:, k][region] for k in range(self.K))  # noqa: E731
        return self._run_table(gate, per(self.region_theta), per(self.region_h), per(self.region_d), sequence)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", regions={self.region_theta.shape[0]}"
