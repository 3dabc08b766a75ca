"""SpikeZIP-TF (You et al., ICML 2024): a quantized transformer (QANN) becomes an SNN whose outputs, summed over
time, equal the QANN's (SpikingJelly 2.0's ``ann2snn.recipes.spikezip_qann``; the recipe is
:class:`~sj.ann2snn.recipes.spikezip_qann.SpikeZIPTFQANNRecipe`).

Each quantizer of the QANN becomes an :class:`sj.neuron.STBIFNode` that emits ±its step and stops at the quantizer's
bounds; every other layer becomes its time-difference (TD) form, ``y_t = f(X_t) − f(X_{t−1})`` on running input sums
``X_t`` (:mod:`sj.ann2snn.operators`), so a sum over steps passes through the network unchanged:

- :class:`SpikeZIPLinear`, :class:`SpikeZIPConv2d`: the layer without bias (linear: its TD form is itself), the bias
  released in equal parts over the first ``bias_steps`` steps;
- :class:`SpikeZIPEmbedding`: the token embeddings at the first step, zeros afterwards;
- :class:`SpikeZIPLayerNorm`, :class:`SpikeZIPSoftmax`: TD layer norm and softmax;
- :class:`SpikeZIPRobertaSelfAttention`, :class:`SpikeZIPViTSelfAttention`: attention whose products of two spiking
  sequences are increments of the products of their running sums (:func:`product_increments`);
- :class:`SpikeZIPViT`: a converted vision transformer, with its class token and position embeddings added at the
  first step only.

Everything here is inference-only and runs in step mode ``'s'`` (one step per call) or ``'m'`` (``[T, ...]``,
after ``sj.functional.set_step_mode(net, 'm')``); a sequence may be cut into several calls: the running sums and the
first-step inputs carry over until ``sj.functional.reset_net``. :class:`SpikeZIPQuantizer` is the QANN side: the
quantizer the recipe recognises, trainable with straight-through gradients.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from sj.ann2snn.operators import TDConv2d, TDLayerNorm, TDLinear, TDSoftmax, first_step_only
from sj.base import MemoryModule, StepModule
from sj.neuron import STBIFNode

__all__ = ["SpikeZIPConv2d", "SpikeZIPEmbedding", "SpikeZIPLayerNorm", "SpikeZIPLinear", "SpikeZIPQuantizer",
           "SpikeZIPRobertaSelfAttention", "SpikeZIPSoftmax", "SpikeZIPViT", "SpikeZIPViTSelfAttention",
           "product_increments"]


class SpikeZIPQuantizer(nn.Module):
    """The QANN's activation quantizer: ``x ↦ s · clamp(⌊x/s + 0.5⌋, neg_min, pos_max)``, ``level`` levels with a
    learnable step ``s``: ``[−level/2, level/2 − 1]`` when ``sym``, else ``[0, level − 1]`` (then it is also the
    ReLU). Training: straight-through rounding (gradient 1 inside the range, 0 outside; ``s`` gets LSQ's gradient
    ``q − x/s`` inside and the bound outside, without LSQ's scale factor).

    The recipe recognises any module with the attributes ``s``, ``sym``, ``pos_max``, ``neg_min`` (and optionally
    ``level``) as a quantizer, so QANNs with their own quantizer class convert too.
    """

    def __init__(self, level: int = 8, sym: bool = True, scale: float = 0.25) -> None:
        super().__init__()
        if isinstance(level, bool) or int(level) < 2:
            raise ValueError(f"SpikeZIPQuantizer: level must be an integer >= 2, got {level!r}")
        if not float(scale) > 0:
            raise ValueError(f"SpikeZIPQuantizer: scale must be positive, got {scale!r}")
        self.level, self.sym = int(level), bool(sym)
        self.s = nn.Parameter(torch.tensor(float(scale)))
        bounds = (-(self.level // 2), self.level // 2 - 1) if self.sym else (0, self.level - 1)
        self.register_buffer("neg_min", torch.tensor(float(bounds[0])))
        self.register_buffer("pos_max", torch.tensor(float(bounds[1])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x / self.s
        rounded = v + (torch.floor(v + 0.5) - v).detach()
        return torch.clamp(rounded, self.neg_min.to(x.dtype), self.pos_max.to(x.dtype)) * self.s

    def extra_repr(self) -> str:
        return f"level={self.level}, sym={self.sym}"


def product_increments(a_seq: torch.Tensor, b_seq: torch.Tensor, a_before: torch.Tensor | None = None,
                       b_before: torch.Tensor | None = None) -> torch.Tensor:
    """``A_t·B_t − A_{t−1}·B_{t−1}`` for the running sums ``A_t = A_0 + a_1 + … + a_t`` (likewise B) of two
    sequences ``[T, ..., M, K]`` and ``[T, ..., K, P]``; ``a_before``/``b_before`` are ``A_0``/``B_0`` (the sums of
    earlier calls, default zero). Summed over the steps this is the product of the summed sequences."""
    a0 = torch.zeros_like(a_seq[0]) if a_before is None else a_before
    b0 = torch.zeros_like(b_seq[0]) if b_before is None else b_before
    products = (a0 + a_seq.cumsum(0)) @ (b0 + b_seq.cumsum(0))
    return torch.diff(products, dim=0, prepend=(a0 @ b0).unsqueeze(0))


class _ReleasedBias:
    """Mixin of the TD linear layers: the source layer's bias is ``spikezip_bias``, added as ``bias/bias_steps`` at
    each of the first ``bias_steps`` steps after a reset (memory ``realize_time``: the steps still to come)."""

    bias_view: tuple[int, ...]

    def _take_bias(self, source: nn.Module, level: int, bias_steps: int | None) -> None:
        with torch.no_grad():
            self.weight.copy_(source.weight)
        self.register_parameter("spikezip_bias", None if source.bias is None else
                                nn.Parameter(source.bias.detach().clone()))
        self.level = int(level)
        self.bias_steps = self.level if bias_steps is None else int(bias_steps)
        if self.bias_steps <= 0:
            raise ValueError(f"{type(self).__name__}: bias_steps must be positive, got {self.bias_steps}")
        self.register_memory("realize_time", self.bias_steps)

    def _release(self, y: torch.Tensor, steps: int | None) -> torch.Tensor:
        if self.spikezip_bias is None or self.realize_time <= 0:
            return y
        share = (self.spikezip_bias.to(y) / self.bias_steps).view(self.bias_view)
        if steps is None:
            self.realize_time -= 1
            return y + share
        n = min(steps, self.realize_time)
        self.realize_time -= n
        return torch.cat((y[:n] + share, y[n:]))

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._release(super().single_step_forward(x), None)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self._release(super().multi_step_forward(x_seq), x_seq.shape[0])


class SpikeZIPLinear(_ReleasedBias, TDLinear):
    """TD ``nn.Linear`` of ``linear`` (weight copied; its bias, if any, as ``spikezip_bias``, released over the first
    ``bias_steps`` steps, default ``level``). Inputs ``[*, in_features]`` ('s') or ``[T, *, in_features]`` ('m')."""

    bias_view = (-1,)

    def __init__(self, linear: nn.Linear, level: int, bias_steps: int | None = None, step_mode: str = "s") -> None:
        super().__init__(linear.in_features, linear.out_features, bias=False, device=linear.weight.device,
                         dtype=linear.weight.dtype, step_mode=step_mode)
        self._take_bias(linear, level, bias_steps)


class SpikeZIPConv2d(_ReleasedBias, TDConv2d):
    """TD ``nn.Conv2d`` of ``conv`` (as :class:`SpikeZIPLinear`). Inputs ``[N, C, H, W]`` or ``[T, N, C, H, W]``."""

    bias_view = (-1, 1, 1)

    def __init__(self, conv: nn.Conv2d, level: int, bias_steps: int | None = None, step_mode: str = "s") -> None:
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                         padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=False,
                         padding_mode=conv.padding_mode, device=conv.weight.device, dtype=conv.weight.dtype,
                         step_mode=step_mode)
        self._take_bias(conv, level, bias_steps)


class SpikeZIPEmbedding(MemoryModule):
    """``embedding`` of the token ids at the first step after a reset, zeros afterwards (the ids are the same at every
    step): ``[*]`` → ``[*, embedding_dim]`` ('s'), ``[T, *]`` → ``[T, *, embedding_dim]`` ('m')."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__("s")
        self.embedding = embedding
        self.register_memory("t", 0)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        y = first_step_only(self.embedding(x), self.t > 0, None)
        self.t += 1
        return y

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() == 0 or x_seq.shape[0] == 0:
            raise ValueError(f"SpikeZIPEmbedding expects a non-empty sequence [T, *], got {tuple(x_seq.shape)}")
        y = first_step_only(self.embedding(x_seq[0]), self.t > 0, x_seq.shape[0])
        self.t += x_seq.shape[0]
        return y


class SpikeZIPLayerNorm(TDLayerNorm):
    """TD ``nn.LayerNorm`` with ``source``'s shape, epsilon and parameters (step mode ``'s'``)."""

    def __init__(self, source: nn.LayerNorm) -> None:
        weight = source.weight
        super().__init__(source.normalized_shape, eps=source.eps, elementwise_affine=source.elementwise_affine,
                         bias=source.bias is not None, device=None if weight is None else weight.device,
                         dtype=None if weight is None else weight.dtype, step_mode="s")
        self.load_state_dict(source.state_dict())


class SpikeZIPSoftmax(TDSoftmax):
    """TD softmax along ``dim`` (step mode ``'s'``)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim, step_mode="s")


def _run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A child of an attention module on a sequence ``[T, ...]``: step modules through their multi-step forward (the
    attention's own step mode decides), anything else (dropout) as it is."""
    return module.multi_step_forward(x) if isinstance(module, StepModule) else module(x)


def _sum_before(node: STBIFNode, like: torch.Tensor) -> torch.Tensor | None:
    """What ``node`` has emitted before this call on inputs shaped like one step of ``like`` (``None``: nothing)."""
    return node.accumulated.to(like.dtype) if node.acc_q is not None and node.acc_q.shape == like.shape[1:] else None


class _SpikeZIPAttention(MemoryModule):
    """Shared by the two attentions: a step counter ``t`` and a sequence core run for one step as ``T = 1``."""

    def __init__(self) -> None:
        super().__init__("s")
        self.register_memory("t", 0)

    def single_step_forward(self, x: torch.Tensor, *args, **kwargs):
        out = self.sequence_forward(x.unsqueeze(0), *args, **kwargs)
        return tuple(o[0] for o in out) if isinstance(out, tuple) else out[0]

    def multi_step_forward(self, x_seq: torch.Tensor, *args, **kwargs):
        return self.sequence_forward(x_seq, *args, **kwargs)

    def spike(self, node: STBIFNode, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``node``'s output sequence for ``x_seq`` and what it had emitted before."""
        before = _sum_before(node, x_seq)
        return node.multi_step_forward(x_seq), before


class SpikeZIPRobertaSelfAttention(_SpikeZIPAttention):
    """SpikeZIP form of a quantized RoBERTa self-attention ``source`` (attributes ``query``/``key``/``value``
    linear layers, ``query_quan``, ``key_quan``, ``value_quan``, ``attn_quan``, ``after_attn_quan`` quantizers,
    ``num_attention_heads``, ``attention_head_size``, ``dropout``): hidden states ``[N, L, C]`` ('s') or
    ``[T, N, L, C]`` ('m') → ``(context,)`` or, with ``output_attentions``, ``(context, attention_probs)``.

    ``attention_mask`` (added to the scores, e.g. ``[N, 1, 1, L]``) enters at the first step only: the softmax sees
    running sums of the scores. Absolute position embeddings only; no cross-attention, cache or head mask.
    """

    def __init__(self, source: nn.Module, level: int) -> None:
        super().__init__()
        self.num_attention_heads = int(source.num_attention_heads)
        self.attention_head_size = int(source.attention_head_size)
        self.all_head_size = int(getattr(source, "all_head_size", self.num_attention_heads * self.attention_head_size))
        self.query, self.key, self.value = (SpikeZIPLinear(getattr(source, n), level)
                                            for n in ("query", "key", "value"))
        self.query_if, self.key_if, self.value_if, self.attn_if, self.after_attn_if = (
            STBIFNode.from_quantizer(getattr(source, f"{n}_quan")) for n in ("query", "key", "value", "attn",
                                                                            "after_attn"))
        self.softmax = SpikeZIPSoftmax(dim=-1)
        self.dropout = copy.deepcopy(getattr(source, "dropout", nn.Identity()))
        self.position_embedding_type = getattr(source, "position_embedding_type", "absolute")
        self.is_decoder = bool(getattr(source, "is_decoder", False))
        if self.position_embedding_type != "absolute":
            raise ValueError("SpikeZIPRobertaSelfAttention supports absolute position embeddings only, got "
                             f"position_embedding_type={self.position_embedding_type!r}")

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., L, H·d]`` → ``[..., H, L, d]``."""
        return x.view(*x.shape[:-1], self.num_attention_heads, self.attention_head_size).transpose(-3, -2)

    def _heads(self, x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else self.transpose_for_scores(x)

    def sequence_forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                         head_mask: torch.Tensor | None = None, encoder_hidden_states: torch.Tensor | None = None,
                         encoder_attention_mask: torch.Tensor | None = None, past_key_value=None,
                         output_attentions: bool = False) -> tuple[torch.Tensor, ...]:
        """The attention on ``[T, N, L, C]`` (see the class docstring)."""
        if encoder_hidden_states is not None or encoder_attention_mask is not None:
            raise ValueError("SpikeZIPRobertaSelfAttention does not support cross-attention")
        if past_key_value is not None or self.is_decoder:
            raise ValueError("SpikeZIPRobertaSelfAttention does not support a decoder cache")
        if head_mask is not None:
            raise ValueError("SpikeZIPRobertaSelfAttention does not support head_mask")
        (q, q0), (k, k0), (v, v0) = (self.spike(node, _run(linear, hidden_states)) for node, linear in (
            (self.query_if, self.query), (self.key_if, self.key), (self.value_if, self.value)))
        scores = product_increments(self._heads(q), self._heads(k).transpose(-1, -2), self._heads(q0),
                                    None if k0 is None else self._heads(k0).transpose(-1, -2))
        scores = scores / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            scores = scores + first_step_only(attention_mask.to(scores.dtype), self.t > 0, scores.shape[0])
        probs = _run(self.dropout, _run(self.softmax, scores))
        probs, p0 = self.spike(self.attn_if, probs)
        context = product_increments(probs, self._heads(v), p0, self._heads(v0))
        context = self.after_attn_if.multi_step_forward(context).transpose(-3, -2).contiguous()
        context = context.view(*context.shape[:-2], self.all_head_size)
        self.t += hidden_states.shape[0]
        return (context, probs) if output_attentions else (context,)


class SpikeZIPViTSelfAttention(_SpikeZIPAttention):
    """SpikeZIP form of a quantized ViT attention ``source`` (``qkv`` and ``proj`` linear layers, quantizers
    ``quan_q``, ``quan_k``, ``quan_v``, ``attn_quan``, ``after_attn_quan``, ``quan_proj``, ``num_heads``,
    ``head_dim``, ``scale``, ``attn_drop``, ``proj_drop``; ``is_softmax=False``: the quantized scores divided by the
    token count instead of a softmax): tokens ``[N, L, C]`` ('s') or ``[T, N, L, C]`` ('m') → same shape. The biases
    of ``qkv`` and ``proj`` enter at the first step."""

    def __init__(self, source: nn.Module, level: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = int(source.num_heads), int(source.head_dim)
        self.scale = float(getattr(source, "scale", self.head_dim ** -0.5))
        self.is_softmax = bool(getattr(source, "is_softmax", True))
        self.qkv = SpikeZIPLinear(source.qkv, level, bias_steps=1)
        self.proj = SpikeZIPLinear(source.proj, level, bias_steps=1)
        self.q_if, self.k_if, self.v_if, self.attn_if, self.after_attn_if, self.proj_if = (
            STBIFNode.from_quantizer(getattr(source, n)) for n in ("quan_q", "quan_k", "quan_v", "attn_quan",
                                                                  "after_attn_quan", "quan_proj"))
        self.attn_drop = copy.deepcopy(getattr(source, "attn_drop", nn.Identity()))
        self.proj_drop = copy.deepcopy(getattr(source, "proj_drop", nn.Identity()))
        if self.is_softmax:
            self.softmax = SpikeZIPSoftmax(dim=-1)

    def sequence_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """The attention on ``[T, N, L, C]``."""
        if x_seq.dim() != 4:
            raise ValueError(f"SpikeZIPViTSelfAttention expects tokens [N, L, C] ('s') or [T, N, L, C] ('m'), got "
                             f"{tuple(x_seq.shape)[1:] if self.step_mode == 's' else tuple(x_seq.shape)}")
        tokens = x_seq.shape[-2]
        qkv = _run(self.qkv, x_seq).reshape(*x_seq.shape[:-1], 3, self.num_heads, self.head_dim)
        q, k, v = qkv.movedim(-3, 0).transpose(-3, -2).unbind(0)  # each [T, N, H, L, d]
        (q, q0), (k, k0), (v, v0) = (self.spike(node, s) for node, s in ((self.q_if, q), (self.k_if, k),
                                                                           (self.v_if, v)))
        scores = product_increments(q * self.scale, k.transpose(-1, -2), None if q0 is None else q0 * self.scale,
                                    None if k0 is None else k0.transpose(-1, -2))
        if self.is_softmax:
            attn, a0 = self.spike(self.attn_if, _run(self.softmax, scores))
        else:
            attn, a0 = self.spike(self.attn_if, scores)
            attn, a0 = attn / tokens, None if a0 is None else a0 / tokens
        context = product_increments(_run(self.attn_drop, attn), v, a0, v0)
        context = self.after_attn_if.multi_step_forward(context).transpose(-3, -2).reshape(x_seq.shape)
        out = self.proj_if.multi_step_forward(_run(self.proj_drop, _run(self.proj, context)))
        self.t += x_seq.shape[0]
        return out


class SpikeZIPViT(MemoryModule):
    """A converted vision transformer: ``vit``'s submodules and parameters under their names (``patch_embed``,
    ``cls_token``, ``pos_embed``, ``blocks`` or ``attn``, ``norm``, ``head``, ...), so a state_dict of SpikingJelly's
    converted model loads strictly. The class token and position embeddings enter at the first step after a reset;
    the output is the head of the class token: ``[N, C, H, W]`` → ``[N, classes]`` ('s'), ``[T, N, C, H, W]`` →
    ``[T, N, classes]`` ('m').

    A model with ``attn`` instead of ``blocks`` runs ``norm(h + attn(attn_norm(h)))`` with ``attn_norm`` a copy of
    ``norm``.
    """

    def __init__(self, vit: nn.Module) -> None:
        super().__init__("s")
        if not hasattr(vit, "norm"):
            raise ValueError("SpikeZIP ViT: the model has no top-level 'norm' module")
        if not (hasattr(vit, "blocks") or hasattr(vit, "attn")):
            raise ValueError("SpikeZIP ViT: the model has neither top-level 'blocks' nor 'attn'")
        for name, child in vit.named_children():
            self.add_module(name, child)
        for name, p in vit.named_parameters(recurse=False):
            self.register_parameter(name, p)
        for name, b in vit.named_buffers(recurse=False):
            self.register_buffer(name, b)
        if hasattr(vit, "attn") and not hasattr(vit, "blocks"):
            self.attn_norm = copy.deepcopy(self.norm)
        self.register_memory("t", 0)
        self.train(vit.training)

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens ``[..., N, P, C]`` of images ``[..., N, C, H, W]``."""
        if hasattr(self.patch_embed, "proj"):
            h = self.patch_embed.proj(x)
        else:
            h = self.patch_embed(x)
            if h.dim() == x.dim() - 1:  # the module made tokens itself
                return h
        h = h.flatten(-2).transpose(-2, -1)
        norm = getattr(self.patch_embed, "norm", None) if hasattr(self.patch_embed, "proj") else None
        return h if norm is None else norm(h)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised class token ``[N, C]`` ('s') or ``[T, N, C]`` ('m')."""
        steps = x.shape[0] if self.step_mode == "m" else None
        if x.dim() != (4 if steps is None else 5):
            raise ValueError(f"SpikeZIP ViT expects images [N, C, H, W] ('s') or [T, N, C, H, W] ('m'); in step "
                             f"mode {self.step_mode!r} got shape {tuple(x.shape)}")
        h = self._patches(x)
        cls = first_step_only(self.cls_token.expand(h.shape[-3], -1, -1), self.t > 0, steps)
        h = torch.cat((cls, h), dim=-2) + first_step_only(self.pos_embed, self.t > 0, steps)
        self.t += 1 if steps is None else steps
        if getattr(self, "pos_drop", None) is not None:
            h = self.pos_drop(h)
        h = self.norm(self.blocks(h)) if hasattr(self, "blocks") else self.norm(h + self.attn(self.attn_norm(h)))
        return h.select(-2, 0)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x_seq))
