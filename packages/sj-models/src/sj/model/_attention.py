"""The spiking attention layers the zoo's transformers are built from (SpikingJelly 2.0's ``layer.attention``:
``SpikingSelfAttention``, ``QKAttention``, ``SpikeDrivenSelfAttention``), with its module names.

They live here until sj.layer offers them; every neuron is ``spiking_neuron(**kwargs)`` in step mode ``'m'``, or
LIF with the paper's defaults (τ = 2, ``detach_reset=True``; the attention neuron's threshold 0.5) when
``spiking_neuron`` is ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from sj import layer
from sj.model._builders import make_multi_step_neuron

NeuronClass = Callable[..., nn.Module] | None
LIF_DEFAULTS = {"tau": 2.0, "detach_reset": True}
ATTENTION_DEFAULTS = {"tau": 2.0, "v_threshold": 0.5, "detach_reset": True}


def conv1d_bn(cin: int, cout: int) -> layer.SeqToANNContainer:
    """1×1 ``Conv1d`` (no bias) and ``BatchNorm1d`` on the time-folded batch."""
    return layer.SeqToANNContainer(nn.Conv1d(cin, cout, kernel_size=1, stride=1, bias=False), nn.BatchNorm1d(cout))


def _check_heads(dim: int, num_heads: int) -> None:
    if dim % num_heads:
        raise ValueError(f"dim {dim} should be divided by num_heads {num_heads}.")


class SpikingSelfAttention(nn.Module):
    """Spikformer's SSA on tokens ``[T, N, C, L]``: Q, K, V spikes from one 1×1 conv-BN-LIF, ``(V·Kᵀ)·Q · 0.125``
    per head (no softmax), an attention LIF (threshold 0.5) and a conv-BN-LIF projection; output ``[T, N, C, L]``."""

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: NeuronClass = None, **kwargs: Any) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        self.dim, self.num_heads, self.head_dim, self.scale = dim, num_heads, dim // num_heads, 0.125
        self.qkv_conv_bn = conv1d_bn(dim, 3 * dim)
        self.qkv_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, ATTENTION_DEFAULTS)
        self.proj_conv_bn = conv1d_bn(dim, dim)
        self.proj_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim != 4:
            raise ValueError(f"expected 4D input with shape [T, N, C, L], but got input with shape {x_seq.shape}")
        T, N, C, L = x_seq.shape
        qkv = self.qkv_lif(self.qkv_conv_bn(x_seq)).reshape(T, N, 3 * self.num_heads, C // self.num_heads, L)
        q, k, v = qkv.chunk(3, dim=2)
        x = (v @ k.transpose(-2, -1)) @ q * self.scale
        return self.proj_lif(self.proj_conv_bn(self.attn_lif(x).reshape(T, N, C, L)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"


class QKAttention(nn.Module):
    """QKFormer's Q-K attention on tokens ``[T, N, C, L]``: Q summed over tokens (``qka_type='token'``) or channels
    (``'channel'``) through the attention LIF gates K; conv-BN-LIF projection."""

    def __init__(self, dim: int, num_heads: int = 8, qka_type: str = "token", spiking_neuron: NeuronClass = None,
                 **kwargs: Any) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        if qka_type not in ("token", "channel"):
            raise ValueError(f"qka_type should be either 'token' or 'channel', but got {qka_type}.")
        self.dim, self.num_heads, self.head_dim, self.qka_type = dim, num_heads, dim // num_heads, qka_type
        self.qk_conv_bn = conv1d_bn(dim, 2 * dim)
        self.qk_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)
        self.sum_dim = 3 if qka_type == "token" else 4
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, ATTENTION_DEFAULTS)
        self.proj_conv_bn = conv1d_bn(dim, dim)
        self.proj_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.ndim != 4:
            raise ValueError(f"expected 4D input with shape [T, N, C, L], but got input with shape {x_seq.shape}")
        T, N, C, L = x_seq.shape
        qk = self.qk_lif(self.qk_conv_bn(x_seq)).reshape(T, N, 2 * self.num_heads, C // self.num_heads, L)
        q, k = qk.chunk(2, dim=2)
        x = self.attn_lif(q.sum(dim=self.sum_dim, keepdim=True)) * k
        return self.proj_lif(self.proj_conv_bn(x.flatten(2, 3)))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, qka_type={self.qka_type}"


class SpikeDrivenSelfAttention(nn.Module):
    """Spike-driven self-attention on ``[T, N, C, H, W]``: a shortcut LIF, Q, K, V as 1×1 conv-BN-LIF spikes, the
    column sums of K⊙V through the attention LIF gating Q, a 1×1 conv-BN projection, plus the input."""

    def __init__(self, dim: int, num_heads: int = 8, spiking_neuron: NeuronClass = None, **kwargs: Any) -> None:
        super().__init__()
        _check_heads(dim, num_heads)
        self.dim, self.num_heads, self.head_dim = dim, num_heads, dim // num_heads
        self.shortcut_lif = make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS)
        for name in ("q", "k", "v"):
            setattr(self, f"{name}_conv", layer.Conv2d(dim, dim, 1, bias=False, step_mode="m"))
            setattr(self, f"{name}_bn", layer.BatchNorm2d(dim, step_mode="m"))
            setattr(self, f"{name}_lif", make_multi_step_neuron(spiking_neuron, kwargs, LIF_DEFAULTS))
        self.attn_lif = make_multi_step_neuron(spiking_neuron, kwargs, ATTENTION_DEFAULTS)
        self.proj_conv = layer.Conv2d(dim, dim, 1, step_mode="m")
        self.proj_bn = layer.BatchNorm2d(dim, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected 5D input [T, N, C, H, W], but got {x.shape}")
        T, N, C, H, W = x.shape
        s = self.shortcut_lif(x)

        def heads(name: str) -> torch.Tensor:  # [T, N, heads, H·W, head_dim]
            y = getattr(self, f"{name}_lif")(getattr(self, f"{name}_bn")(getattr(self, f"{name}_conv")(s)))
            return y.flatten(3).transpose(-1, -2).reshape(T, N, H * W, self.num_heads, self.head_dim).transpose(2, 3)

        q, k, v = heads("q"), heads("k"), heads("v")
        y = (q * self.attn_lif((k * v).sum(dim=-2, keepdim=True))).transpose(3, 4).reshape(T, N, C, H, W)
        return self.proj_bn(self.proj_conv(y)) + x

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}"
