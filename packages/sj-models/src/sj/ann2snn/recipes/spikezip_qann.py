"""SpikingJelly 2.0's SpikeZIP-TF recipe: a quantized transformer (QANN: RoBERTa- or ViT-style) → an SNN whose
outputs, summed over the steps, equal the QANN's (see :mod:`sj.ann2snn.spikezip` for the layers).

``ModuleConverter(recipe=SpikeZIPTFQANNRecipe(time_steps, model_family)).convert(qann)`` walks a copy of the module
tree (no tracing) and replaces, child by child: a recognised attention (``model_family``'s attribute set) by its
SpikeZIP form; ``nn.Embedding`` → :class:`SpikeZIPEmbedding`; ``nn.Conv2d`` / ``nn.Linear`` →
:class:`SpikeZIPConv2d` / :class:`SpikeZIPLinear` (bias released over ``level`` steps); ``nn.LayerNorm`` →
:class:`SpikeZIPLayerNorm`; a quantizer (any module with ``s``, ``sym``, ``pos_max``, ``neg_min``) →
:class:`sj.neuron.STBIFNode`; ``nn.ReLU`` → ``nn.Identity`` (an unsigned quantizer already clips). Other modules are
searched recursively. A ViT (``patch_embed``, ``cls_token``, ``pos_embed``, ``head``) becomes a :class:`SpikeZIPViT`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from torch import nn

from sj.ann2snn.recipes.base import ModuleConversionRecipe
from sj.ann2snn.spikezip import (
    SpikeZIPConv2d,
    SpikeZIPEmbedding,
    SpikeZIPLayerNorm,
    SpikeZIPLinear,
    SpikeZIPRobertaSelfAttention,
    SpikeZIPSoftmax,
    SpikeZIPViT,
    SpikeZIPViTSelfAttention,
)
from sj.neuron import STBIFNode

if TYPE_CHECKING:
    from sj.ann2snn.converter import ModuleConverter

__all__ = ["STBIFNode", "SpikeZIPConv2d", "SpikeZIPEmbedding", "SpikeZIPLayerNorm", "SpikeZIPLinear",
           "SpikeZIPRobertaSelfAttention", "SpikeZIPSoftmax", "SpikeZIPTFQANNRecipe", "SpikeZIPViTSelfAttention"]

# the attributes that identify a quantized attention of each family
_ATTENTION = {
    "roberta": (SpikeZIPRobertaSelfAttention, ("query", "query_quan", "key", "key_quan", "value", "value_quan",
                                               "attn_quan", "after_attn_quan", "num_attention_heads",
                                               "attention_head_size", "all_head_size", "dropout")),
    "vit": (SpikeZIPViTSelfAttention, ("qkv", "quan_q", "quan_k", "quan_v", "attn_quan", "after_attn_quan", "proj",
                                       "quan_proj", "num_heads", "head_dim", "scale", "attn_drop", "proj_drop")),
}
_QUANTIZER = ("s", "sym", "pos_max", "neg_min")
_VIT = ("patch_embed", "cls_token", "pos_embed", "head")


def is_quantizer(module: nn.Module) -> bool:
    """A SpikeZIP quantizer: has ``s``, ``sym``, ``pos_max`` and ``neg_min``."""
    return all(hasattr(module, name) for name in _QUANTIZER)


def quantizer_level(quantizer: nn.Module) -> int:
    """``level``, or ``pos_max − neg_min + 1``."""
    if hasattr(quantizer, "level"):
        return int(quantizer.level)
    return int(float(quantizer.pos_max) - float(quantizer.neg_min) + 1)


class SpikeZIPTFQANNRecipe(ModuleConversionRecipe):
    """SpikeZIP-TF conversion of a QANN (see the module docstring).

    Args:
        time_steps: the steps the SNN is meant to run (stored on the result as ``time_steps``; also the bias release
            length of the linear layers when the model has no quantizer). Default 200.
        model_family: ``'roberta'`` or ``'vit'``: which attention layout to recognise. Default ``'roberta'``.

    The result (a copy; the QANN is untouched) is in evaluation mode and step mode ``'s'``, with the attributes
    ``ann2snn_recipe = 'spikezip_tf_qann'``, ``time_steps`` and ``model_family``. Run it with the same input at
    every step and sum the outputs: after ``level`` steps (the biases are complete) the sum approaches the QANN's
    output, and equals it once every neuron has emitted its quantized value.
    """

    def __init__(self, time_steps: int = 200, model_family: str = "roberta") -> None:
        self.time_steps = time_steps
        self.model_family = model_family

    def validate(self, converter: ModuleConverter) -> None:
        t = self.time_steps
        if isinstance(t, bool) or not isinstance(t, int) or t <= 0:
            raise ValueError(f"SpikeZIPTFQANNRecipe: time_steps must be a positive integer, got {t!r}")
        if self.model_family not in _ATTENTION:
            raise ValueError(f"SpikeZIPTFQANNRecipe: model_family must be 'roberta' or 'vit', got "
                             f"{self.model_family!r}")

    def convert_module(self, converter: ModuleConverter, ann: nn.Module) -> nn.Module:
        model = copy.deepcopy(ann).eval()
        level = next((quantizer_level(m) for m in model.modules() if is_quantizer(m)), self.time_steps)
        model = self._replace(model, level)
        if self.model_family == "vit" and all(hasattr(model, name) for name in _VIT):
            model = SpikeZIPViT(model)
        model.ann2snn_recipe = "spikezip_tf_qann"
        model.time_steps = self.time_steps
        model.model_family = self.model_family
        return model

    def _replace(self, module: nn.Module, level: int) -> nn.Module:
        """``module``'s SpikeZIP form, or ``module`` with its children replaced."""
        attention, attributes = _ATTENTION[self.model_family]
        if all(hasattr(module, name) for name in attributes):
            return attention(module, self._attention_level(module))
        if isinstance(module, nn.Embedding):
            return SpikeZIPEmbedding(module)
        if isinstance(module, nn.Conv2d):
            return SpikeZIPConv2d(module, level)
        if isinstance(module, nn.Linear):
            return SpikeZIPLinear(module, level)
        if isinstance(module, nn.LayerNorm):
            return SpikeZIPLayerNorm(module)
        if is_quantizer(module):
            return STBIFNode.from_quantizer(module)
        if isinstance(module, nn.ReLU):
            return nn.Identity()
        for name, child in list(module.named_children()):
            setattr(module, name, self._replace(child, level))
        return module

    @staticmethod
    def _attention_level(attention: nn.Module) -> int:
        """The level of the attention's first query/key/value quantizer."""
        for name in ("query_quan", "key_quan", "value_quan", "quan_q", "quan_k", "quan_v"):
            quantizer = getattr(attention, name, None)
            if quantizer is not None and (hasattr(quantizer, "level") or
                                          (hasattr(quantizer, "pos_max") and hasattr(quantizer, "neg_min"))):
                return quantizer_level(quantizer)
        raise ValueError(f"SpikeZIPTFQANNRecipe: the attention {type(attention).__name__} has no query/key/value "
                         "quantizer with a level (or pos_max and neg_min)")
