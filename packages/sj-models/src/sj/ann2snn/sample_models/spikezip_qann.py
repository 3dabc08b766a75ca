"""Tiny quantized transformers (QANNs) in the layouts :class:`~sj.ann2snn.SpikeZIPTFQANNRecipe` recognises, built
with :class:`~sj.ann2snn.spikezip.SpikeZIPQuantizer` (the synthetic RoBERTa of SpikingJelly's SpikeZIP example, and
a ViT). Randomly initialised; train them (straight-through quantizers) or load weights before converting.

- :class:`TinyQRobertaClassifier`: embedding → one quantized RoBERTa self-attention → layer norm → linear head on
  the first token; tokens ``[N, L]`` → ``[N, 2]``.
- :class:`TinyQViT`: patch embedding (convolution + layer norm), class token, position embeddings, quantized
  pre-norm blocks (attention and a ReLU MLP), layer norm, linear head on the class token; ``[N, 3, H, W]`` →
  ``[N, num_classes]``.
"""

from __future__ import annotations

import torch
from torch import nn

from sj.ann2snn.spikezip import SpikeZIPQuantizer

__all__ = ["QRobertaSelfAttention", "QViTAttention", "QViTBlock", "TinyQRobertaClassifier", "TinyQViT"]


class QRobertaSelfAttention(nn.Module):
    """Hugging Face RoBERTa's self-attention attribute names, with quantized queries, keys, values, attention
    probabilities (unsigned, step 1/8) and context: ``[N, L, C]`` → ``(context,)`` or ``(context, probs)``."""

    def __init__(self, hidden_size: int = 16, num_heads: int = 4, level: int = 8) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden_size {hidden_size} is not divisible by num_heads {num_heads}")
        self.num_attention_heads, self.attention_head_size = num_heads, hidden_size // num_heads
        self.all_head_size = hidden_size
        self.query, self.key, self.value = (nn.Linear(hidden_size, hidden_size) for _ in range(3))
        self.query_quan, self.key_quan, self.value_quan, self.after_attn_quan = (
            SpikeZIPQuantizer(level, sym=True) for _ in range(4))
        self.attn_quan = SpikeZIPQuantizer(level, sym=False, scale=0.125)
        self.dropout = nn.Dropout(0.0)
        self.position_embedding_type, self.is_decoder = "absolute", False

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.num_attention_heads, self.attention_head_size).transpose(-3, -2)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_attentions: bool = False) -> tuple[torch.Tensor, ...]:
        q, k, v = (self._heads(quan(lin(hidden_states))) for lin, quan in (
            (self.query, self.query_quan), (self.key, self.key_quan), (self.value, self.value_quan)))
        scores = q @ k.transpose(-1, -2) / self.attention_head_size ** 0.5
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.attn_quan(self.dropout(torch.softmax(scores, dim=-1)))
        context = self.after_attn_quan(probs @ v).transpose(-3, -2).contiguous()
        context = context.view(*context.shape[:-2], self.all_head_size)
        return (context, probs) if output_attentions else (context,)


class TinyQRobertaClassifier(nn.Module):
    """Embedding, one :class:`QRobertaSelfAttention`, layer norm, ``Linear(hidden_size, 2)`` on the first token."""

    def __init__(self, vocab_size: int = 32, hidden_size: int = 16, num_heads: int = 4, level: int = 8) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.attention = QRobertaSelfAttention(hidden_size, num_heads, level)
        self.norm = nn.LayerNorm(hidden_size)
        self.classifier = nn.Linear(hidden_size, 2)

    def forward(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.norm(self.attention(self.embedding(tokens), attention_mask=attention_mask)[0])
        return self.classifier(hidden.select(-2, 0))


class QViTAttention(nn.Module):
    """timm's ViT attention names (``qkv``, ``proj``, ``num_heads``, ``head_dim``, ``scale``) with SpikeZIP-TF's
    quantizers; ``softmax=False``: the quantized scores divided by the token count: ``[N, L, C]`` → ``[N, L, C]``."""

    def __init__(self, dim: int, num_heads: int, level: int = 8, softmax: bool = True) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.is_softmax = softmax
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.quan_q, self.quan_k, self.quan_v, self.after_attn_quan, self.quan_proj = (
            SpikeZIPQuantizer(level, sym=True) for _ in range(5))
        self.attn_quan = SpikeZIPQuantizer(level, sym=not softmax, scale=0.125)
        self.attn_drop, self.proj_drop = nn.Dropout(0.0), nn.Dropout(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).reshape(*x.shape[:-1], 3, self.num_heads, self.head_dim).movedim(-3, 0) \
            .transpose(-3, -2).unbind(0)
        scores = (self.quan_q(q) * self.scale) @ self.quan_k(k).transpose(-1, -2)
        attn = self.attn_quan(torch.softmax(scores, dim=-1)) if self.is_softmax else \
            self.attn_quan(scores) / x.shape[-2]
        context = self.after_attn_quan(self.attn_drop(attn) @ self.quan_v(v)).transpose(-3, -2).reshape(x.shape)
        return self.quan_proj(self.proj_drop(self.proj(context)))


class QViTBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))`` with a quantized ReLU MLP."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 2, level: int = 8, softmax: bool = True) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = QViTAttention(dim, num_heads, level, softmax)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), SpikeZIPQuantizer(level, sym=False), nn.ReLU(),
                                 nn.Linear(mlp_ratio * dim, dim), SpikeZIPQuantizer(level, sym=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch_size, patch_size)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).flatten(-2).transpose(-2, -1))


class TinyQViT(nn.Module):
    """A quantized ViT of ``depth`` :class:`QViTBlock` (timm's attribute names: ``patch_embed``, ``cls_token``,
    ``pos_embed``, ``pos_drop``, ``blocks``, ``norm``, ``head``): ``[N, in_chans, img_size, img_size]`` →
    ``[N, num_classes]``."""

    def __init__(self, img_size: int = 8, patch_size: int = 4, in_chans: int = 3, dim: int = 16, depth: int = 1,
                 num_heads: int = 2, num_classes: int = 3, level: int = 8, softmax: bool = True) -> None:
        super().__init__()
        self.patch_embed = _PatchEmbed(patch_size, in_chans, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (img_size // patch_size) ** 2 + 1, dim) * 0.02)
        self.pos_drop = nn.Dropout(0.0)
        self.blocks = nn.Sequential(*(QViTBlock(dim, num_heads, level=level, softmax=softmax) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.patch_embed(x)
        h = torch.cat((self.cls_token.expand(h.shape[0], -1, -1), h), dim=1) + self.pos_embed
        return self.norm(self.blocks(self.pos_drop(h)))[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))
