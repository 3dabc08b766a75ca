"""Membrane-potential batch normalization (MPBN, SpikingJelly 2.0): a LIF neuron that batch-normalizes its charged
membrane before firing. After training, :meth:`MPBNBaseNode.re_parameterize_v_threshold` folds the normalization
into a per-feature threshold (optionally keeping the statistics up to date, ``running_stats``, and normalizing the
sub-threshold residual, ``normalize_residual``). Not a declaration; runs the torch step function in both modes."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as tf
from torch import nn

from sj.functional.neuron_steps import lif_charge, voltage_reset
from sj.neuron.node import BaseNode


class MPBNBaseNode(BaseNode):
    """The MPBN neuron's normalization: ``vbn`` (``BatchNorm1d(out_features)`` or ``BatchNorm2d(out_channels)``,
    exactly one given; ``nn.Identity`` when ``mpbn=False``), and with ``learnable_vth`` a learnable per-feature
    threshold exp(a). Other arguments as :class:`~sj.neuron.node.BaseNode` (SpikingJelly's form)."""

    def __init__(self, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_function: Callable | None = None, detach_reset: bool = False, step_mode: str = "s",
                 store_v_seq: bool = False, mpbn: bool = True, out_features: int | None = None,
                 out_channels: int | None = None, learnable_vth: bool = False, bn_momentum: float = 0.1,
                 bn_decay_momentum: float = 0.94, bn_min_momentum: float = 0.005) -> None:
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq)
        if (out_features is None) == (out_channels is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of out_features and out_channels")
        features = out_channels if out_channels is not None else out_features
        if not mpbn:
            self.vbn = nn.Identity()
        else:
            self.vbn = nn.BatchNorm2d(features) if out_channels is not None else nn.BatchNorm1d(features)
        self.register_buffer("mu", None)
        self.register_buffer("sigma2", None)
        self.gamma = self.beta = self.eps = None
        self.fold_bn = self.normalize_residual = self.running_stats = False
        self.bn_momentum, self.bn_decay_momentum, self.bn_min_momentum = bn_momentum, bn_decay_momentum, bn_min_momentum
        self.learnable_vth = learnable_vth
        if learnable_vth:
            self.a = nn.Parameter(torch.zeros(features))

    def re_parameterize_v_threshold(self, normalize_residual: bool = False, running_stats: bool = False) -> None:
        """Fold ``vbn`` into the threshold: V_th' = (V_th − β)·√(σ² + ε)/γ + μ per feature (a learned threshold
        exp(a) becomes the fixed V_th first); ``vbn`` becomes ``nn.Identity``."""
        if isinstance(self.vbn, nn.Identity):
            return
        self.fold_bn = True
        if self.learnable_vth:
            self.v_threshold = torch.exp(self.a.detach())
            del self.a
            self.learnable_vth = False
        self.normalize_residual, self.running_stats = normalize_residual, running_stats
        bn = self.vbn
        self.mu, self.sigma2, self.gamma, self.beta, self.eps = bn.running_mean, bn.running_var, bn.weight, bn.bias, \
            bn.eps
        self.vbn = nn.Identity()


class MPBNLIFNode(MPBNBaseNode):
    """LIF (default ``decay_input=False``) with membrane-potential batch normalization: H = BN(LIF charge), spike
    on H − V_th (or the folded / learned per-feature threshold). Inputs ``[N, F]`` or ``[N, C, H, W]`` per step."""

    def __init__(self, tau: float = 2.0, decay_input: bool = False, v_threshold: float = 1.0,
                 v_reset: float | None = 0.0, surrogate_function: Callable | None = None, detach_reset: bool = False,
                 step_mode: str = "s", store_v_seq: bool = False, mpbn: bool = True, out_features: int | None = None,
                 out_channels: int | None = None, learnable_vth: bool = False, bn_momentum: float = 0.1,
                 bn_decay_momentum: float = 0.94, bn_min_momentum: float = 0.005) -> None:
        if isinstance(tau, bool) or not isinstance(tau, int | float) or not tau > 1.0:
            raise ValueError(f"MPBNLIFNode: tau must be a number > 1, got {tau!r}")
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq, mpbn,
                         out_features, out_channels, learnable_vth, bn_momentum, bn_decay_momentum, bn_min_momentum)
        self.tau, self.decay_input = float(tau), bool(decay_input)

    def _normalization_state(self) -> dict:
        """Copies of the statistics a call updates (committed after the call in training, see :meth:`forward`)."""
        bn = None if isinstance(self.vbn, nn.Identity) else self.vbn
        return {"running_mean": None if bn is None else bn.running_mean.clone(),
                "running_var": None if bn is None else bn.running_var.clone(),
                "num_batches_tracked": None if bn is None else bn.num_batches_tracked.clone(),
                "mu": self.mu, "sigma2": self.sigma2, "bn_momentum": self.bn_momentum}

    def forward(self, *args, **kwargs):
        stats = self._normalization_state()
        out = super().forward(*args, _mpbn_stats=stats, **kwargs)
        if self.training:
            if not isinstance(self.vbn, nn.Identity):
                for name in ("running_mean", "running_var", "num_batches_tracked"):
                    getattr(self.vbn, name).copy_(stats[name])
            elif self.fold_bn and not self.learnable_vth:
                self.mu, self.sigma2, self.bn_momentum = stats["mu"], stats["sigma2"], stats["bn_momentum"]
        return out

    def multi_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        kwargs.setdefault("_mpbn_stats", self._normalization_state())
        return super().multi_step_functional_forward(inputs, states, **kwargs)

    def single_step_functional_forward(self, inputs: tuple, states: tuple, **kwargs) -> tuple:
        stats = kwargs.get("_mpbn_stats") or self._normalization_state()
        v = lif_charge(inputs[0], states[0], self.tau, self.decay_input, self.v_reset)
        bn = self.vbn
        if not isinstance(bn, nn.Identity):
            factor = 0.0 if bn.momentum is None else bn.momentum
            if self.training:
                stats["num_batches_tracked"].add_(1)
                if bn.momentum is None:
                    factor = 1.0 / float(stats["num_batches_tracked"])
            v = tf.batch_norm(v, stats["running_mean"], stats["running_var"], bn.weight, bn.bias, self.training,
                              factor, bn.eps)
        mu, sigma2 = stats["mu"], stats["sigma2"]
        folded = self.fold_bn and not self.learnable_vth
        if folded and self.training and not (v.dim() == 2 and v.shape[0] == 1):
            dims = 0 if v.dim() == 2 else (0, 2, 3)
            batch_mu, batch_sigma2 = v.mean(dims).detach(), v.var(dims, unbiased=True).detach()
            if self.running_stats:
                momentum = stats["bn_momentum"]
                mu = mu.detach() * (1 - momentum) + batch_mu * momentum
                sigma2 = sigma2.detach() * (1 - momentum) + batch_sigma2 * momentum
                stats["bn_momentum"] = max(momentum * self.bn_decay_momentum, self.bn_min_momentum)
            else:
                mu, sigma2 = batch_mu, batch_sigma2
            stats["mu"], stats["sigma2"] = mu, sigma2
        feature = (1, -1) if v.dim() == 2 else (1, -1, 1, 1)
        if folded:
            threshold = ((self.v_threshold - self.beta) * torch.sqrt(sigma2 + self.eps) / self.gamma + mu).view(feature)
        elif self.learnable_vth:
            threshold = torch.exp(self.a).view(feature)
        else:
            threshold = self.v_threshold
        diff = v - threshold
        spike = self.surrogate_function(diff)
        if self.normalize_residual:  # below threshold, the membrane keeps its normalized value
            sigma = torch.sqrt(sigma2 + self.eps).view(feature)
            normalized = (v - mu.view(feature)) / sigma * self.gamma.view(feature) + self.beta.view(feature)
            v = torch.where(diff <= 0, normalized, v)
        return (spike,), (voltage_reset(v, spike, self.v_threshold, self.v_reset, self.detach_reset), *states[1:])

    def extra_repr(self) -> str:
        return super().extra_repr() + f", tau={self.tau}, decay_input={self.decay_input}"
