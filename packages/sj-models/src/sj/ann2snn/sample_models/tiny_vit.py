"""A tiny vision transformer for the transformer recipes (:class:`~sj.ann2snn.STATransformerRecipe`,
:class:`~sj.ann2snn.TransformerTDEquivalentRecipe`): convolutional patch embedding, class token, position embeddings,
pre-norm blocks of ``nn.MultiheadAttention`` and a GELU MLP, layer norm, linear head on the class token.
``[N, in_chans, img_size, img_size]`` → ``[N, num_classes]``."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TinyViT", "TinyViTBlock"]


class TinyViTBlock(nn.Module):
    """``x + attn(norm1(x))``, then ``x + mlp(norm2(x))`` (``mlp``: Linear, GELU, Linear)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        h, _ = self.attn(h, h, h, need_weights=False)
        x = x + h
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """``depth`` :class:`TinyViTBlock` of width ``dim`` on ``(img_size/patch_size)²`` patches and a class token."""

    def __init__(self, img_size: int = 8, patch_size: int = 4, in_chans: int = 3, dim: int = 16, depth: int = 1,
                 num_heads: int = 2, num_classes: int = 3) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(in_chans, dim, patch_size, patch_size)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (img_size // patch_size) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*(TinyViTBlock(dim, num_heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])
