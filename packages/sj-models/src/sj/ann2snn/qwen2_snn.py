"""The spiking Qwen2 language model of SpikingJelly 2.0's post-training conversion (built by
:class:`~sj.ann2snn.recipes.qwen2.Qwen2SNNRecipe` from a Hugging Face ``Qwen2ForCausalLM`` and a calibration).

Every decoder runs all ``T`` steps of a sequence at once (``[T, B, S, H]``, layer by layer): RMS norms, projections,
SiLU and the gate product are TD operators (:mod:`sj.ann2snn.operators`); rotary embeddings are applied per step
(they are linear); queries, keys, values and the MLP's product are re-encoded by signed QCFS encoders
(:class:`~sj.ann2snn.qcfs.SignedQCFSSequenceEncoder`) with the calibrated per-channel steps; attention is a TD
scaled dot-product attention with grouped key/value heads and the causal mask. Three encodings
(``encoding_mode``): ``'signed_if'`` (spikes, the default), ``'qcfs_sg'`` (the QCFS quantization of each value, at the
first step) and ``'exact_td'`` (the analog value at the first step: the Qwen2 model itself, to rounding). The logits
are the head applied to the sum over time of the last hidden states.

Nothing here imports ``transformers``: the source model is read through its attributes (``model.embed_tokens``,
``model.layers[i].self_attn.q_proj``, ``model.rotary_emb``, ``lm_head``, ``config``, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from sj.ann2snn.operators import (
    SNNElementWiseProduct,
    TDLinear,
    TDRMSNorm,
    TDScaledDotProductAttention,
    TDSiLU,
    first_step_only,
    td_module_from_ann,
)
from sj.ann2snn.qcfs import SignedQCFSSequenceEncoder

__all__ = ["ENCODING_MODES", "Qwen2SNNModel", "SCALE_NAMES"]

#: The activations of a decoder layer that are encoded as spikes, in calibration order (each gets a calibrated scale).
SCALE_NAMES = ("query", "key", "value", "mlp")
#: How activations become spikes: signed IF neurons, QCFS with a surrogate gradient, or exact time differences.
ENCODING_MODES = ("signed_if", "qcfs_sg", "exact_td")


def rotate(query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Qwen2's rotary position embedding of ``[..., heads, S, D]`` queries and keys (``cos``/``sin`` ``[B, S, D]``,
    broadcast over heads and any leading time dimension)."""
    cos, sin = cos.unsqueeze(-3), sin.unsqueeze(-3)
    while cos.dim() < query.dim():
        cos, sin = cos.unsqueeze(0), sin.unsqueeze(0)

    def half_turn(x: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    return query * cos + half_turn(query) * sin, key * cos + half_turn(key) * sin


def split_heads(x: torch.Tensor, heads: int, head_dim: int) -> torch.Tensor:
    """``[..., S, heads·D]`` → ``[..., heads, S, D]``."""
    return x.view(*x.shape[:-1], heads, head_dim).transpose(-3, -2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``[..., heads, S, D]`` → ``[..., S, heads·D]``."""
    return x.transpose(-3, -2).flatten(-2)


def _repeat_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Grouped-query attention: each key/value head serves ``groups`` query heads (``[T, B, heads, S, D]``)."""
    return x if groups == 1 else x.repeat_interleave(groups, dim=2)


def causal_mask(attention_mask: torch.Tensor, query_length: int, past_length: int) -> torch.Tensor:
    """``[B, 1, S, K]`` booleans (True: attend) for ``S`` new tokens after ``past_length`` cached ones and a padding
    mask ``[B, K]`` (``K = past_length + S``)."""
    key_length = past_length + query_length
    if attention_mask.dim() != 2 or attention_mask.shape[1] != key_length:
        raise ValueError(f"attention_mask must be [batch, past_length + query_length] = [*, {key_length}], got "
                         f"{tuple(attention_mask.shape)}")
    query = torch.arange(past_length, key_length, device=attention_mask.device).unsqueeze(1)
    key = torch.arange(key_length, device=attention_mask.device).unsqueeze(0)
    return (key <= query)[None, None] & attention_mask[:, None, None, :].to(torch.bool)


def td_rms_norm(source: nn.Module) -> TDRMSNorm:
    """The TD form of a Qwen2 RMS norm (``weight``, ``variance_epsilon`` or ``eps``)."""
    weight = getattr(source, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"a Qwen2 RMS norm must have a tensor weight, {type(source).__name__} has none")
    eps = getattr(source, "variance_epsilon", getattr(source, "eps", None))
    norm = TDRMSNorm(weight.shape, eps=eps, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        norm.weight.copy_(weight)
    norm.weight.requires_grad_(weight.requires_grad)
    return norm.train(source.training)


class Qwen2Cache:
    """Keys and values ``[B, kv_heads, S, D]`` of the tokens seen so far, per decoder (each call's sum over time)."""

    def __init__(self, layers: int) -> None:
        self.entries: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * layers

    def append(self, index: int, key: torch.Tensor, value: torch.Tensor) -> None:
        entry = self.entries[index]
        if entry is not None:
            key, value = torch.cat((entry[0], key), dim=2), torch.cat((entry[1], value), dim=2)
        self.entries[index] = (key.detach(), value.detach())

    def get_seq_length(self) -> int:
        """The number of cached tokens."""
        entry = self.entries[0]
        return 0 if entry is None else int(entry[0].shape[2])

    def reorder_cache(self, indices: torch.Tensor) -> None:
        """Keep (and reorder) the batch rows ``indices`` (beam search's hook)."""
        self.entries = [None if e is None else (e[0][indices], e[1][indices]) for e in self.entries]

    def storage_summary(self) -> dict[str, object]:
        """Shapes and bytes of the cache (logical, and of the distinct storages)."""
        tensors = [t for e in self.entries if e is not None for t in e]
        logical = sum(t.numel() * t.element_size() for t in tensors)
        storages = {(str(t.device), t.untyped_storage().data_ptr()): t.untyped_storage().nbytes() for t in tensors}
        return {"per_layer_key_value_shape": [{"key": None if e is None else list(e[0].shape),
                                               "value": None if e is None else list(e[1].shape)}
                                              for e in self.entries],
                "stored_cache_logical_bytes": logical, "stored_cache_unique_storage_bytes": sum(storages.values()),
                "theoretical_cache_bytes": logical, "temporal_prefix_materialization_bytes": 0}


class _Qwen2Decoder(nn.Module):
    """One converted decoder layer (see the module docstring)."""

    def __init__(self, source: nn.Module, scales: Mapping[str, torch.Tensor], time_steps: int, index: int) -> None:
        super().__init__()
        attention, mlp = source.self_attn, source.mlp
        self.index, self.time_steps = index, time_steps
        self.heads = int(attention.config.num_attention_heads)
        self.kv_heads = int(attention.config.num_key_value_heads)
        self.head_dim = int(attention.head_dim)
        self.kv_groups = int(attention.num_key_value_groups)
        self.input_layernorm = td_rms_norm(source.input_layernorm)
        self.post_attention_layernorm = td_rms_norm(source.post_attention_layernorm)
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            setattr(self, name, td_module_from_ann(getattr(attention, name)))
        self.sdpa = TDScaledDotProductAttention(scale=float(attention.scaling))
        for name in ("gate_proj", "up_proj", "down_proj"):
            setattr(self, name, td_module_from_ann(getattr(mlp, name)))
        self.act = TDSiLU()
        self.product = SNNElementWiseProduct()
        self.encoders = nn.ModuleDict({name: SignedQCFSSequenceEncoder(scales[name], time_steps,
                                                                       name=f"layer.{index}.{name}")
                                       for name in SCALE_NAMES})

    def _encode(self, name: str, seq: torch.Tensor, mode: str, mask: torch.Tensor) -> torch.Tensor:
        dense = seq.sum(0)
        if mode == "exact_td":
            return first_step_only(dense, False, self.time_steps)
        if mode == "qcfs_sg":
            return first_step_only(self.encoders[name].reconstruct(dense), False, self.time_steps)
        return self.encoders[name].encode(dense, mask)

    def _attend(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor,
                cache: Qwen2Cache | None, mode: str) -> torch.Tensor:
        past = None
        if cache is not None:
            past = cache.entries[self.index]
            cache.append(self.index, key.sum(0), value.sum(0))
        dtype = query.dtype
        with torch.amp.autocast(query.device.type, enabled=False):
            query = query.float()
            key, value = _repeat_kv(key.float(), self.kv_groups), _repeat_kv(value.float(), self.kv_groups)
            if past is not None:  # the cached tokens enter at the first step, as every value does
                past_key, past_value = (p.float().repeat_interleave(self.kv_groups, dim=1) for p in past)
            if mode != "signed_if":
                if past is None:
                    step = self.sdpa(query[:1], key[:1], value[:1], mask)[0]
                else:
                    step = self.sdpa.single_step_forward(query[0], torch.cat((past_key, key[0]), dim=2),
                                                         torch.cat((past_value, value[0]), dim=2), mask)
                attended = first_step_only(step, False, query.shape[0])
            elif past is None:
                attended = self.sdpa(query, key, value, mask)
            else:
                zero_key, zero_value = torch.zeros_like(past_key), torch.zeros_like(past_value)
                attended = torch.stack([self.sdpa.single_step_forward(
                    query[t], torch.cat((past_key if t == 0 else zero_key, key[t]), dim=2),
                    torch.cat((past_value if t == 0 else zero_value, value[t]), dim=2), mask)
                    for t in range(query.shape[0])])
        return merge_heads(attended.to(dtype))

    def forward(self, hidden: torch.Tensor, *, cos: torch.Tensor, sin: torch.Tensor, attention_mask: torch.Tensor,
                value_mask: torch.Tensor, encoding_mode: str, cache: Qwen2Cache | None) -> torch.Tensor:
        """``[T, B, S, H]`` → ``[T, B, S, H]``."""
        normalized = self.input_layernorm(hidden)
        query = split_heads(self.q_proj(normalized), self.heads, self.head_dim)
        key = split_heads(self.k_proj(normalized), self.kv_heads, self.head_dim)
        value = split_heads(self.v_proj(normalized), self.kv_heads, self.head_dim)
        query, key = rotate(query, key, cos, sin)
        query, key, value = (split_heads(self._encode(name, merge_heads(x), encoding_mode, value_mask), heads,
                                         self.head_dim)
                             for name, x, heads in (("query", query, self.heads), ("key", key, self.kv_heads),
                                                    ("value", value, self.kv_heads)))
        hidden = hidden + self.o_proj(self._attend(query, key, value, attention_mask, cache, encoding_mode))
        normalized = self.post_attention_layernorm(hidden)
        gated = self.product(self.act(self.gate_proj(normalized)), self.up_proj(normalized))
        return hidden + self.down_proj(self._encode("mlp", gated, encoding_mode, value_mask))


class Qwen2SNNModel(nn.Module):
    """A converted Qwen2 causal LM (see the module docstring): ``forward(input_ids [B, S], attention_mask [B, S]
    (1: token, 0: padding), *, position_ids, encoding_mode='signed_if', past_key_values, use_cache)`` returns a
    namespace with ``logits`` ``[B, S, vocab]`` (float32) and ``past_key_values`` (a :class:`Qwen2Cache` when
    ``use_cache``). Stateful: call ``sj.functional.reset_net`` between forward calls (:meth:`generate` does).
    """

    temporal_layout = "[T,B,S,H]"
    execution_schedule = "layerwise_offline_multistep"
    online_inference = False

    def __init__(self, source: nn.Module, calibration, conversion) -> None:
        super().__init__()
        inner = source.model
        self.config = source.config
        self.time_steps = conversion.time_steps
        self.embed_tokens = copy.deepcopy(inner.embed_tokens)
        self.rotary_emb = inner.rotary_emb
        self.layers = nn.ModuleList([_Qwen2Decoder(layer, calibration.layer_scales[i], conversion.time_steps, i)
                                     for i, layer in enumerate(inner.layers)])
        self.norm = td_rms_norm(inner.norm)
        self.lm_head = td_module_from_ann(source.lm_head)
        self.tie_weights()
        self.input_encoder = SignedQCFSSequenceEncoder(calibration.input_scale, conversion.time_steps,
                                                       name="model.input")

    def signed_encoders(self) -> tuple[SignedQCFSSequenceEncoder, ...]:
        """The input encoder, then each decoder's query, key, value and MLP encoders."""
        return (self.input_encoder, *(e for layer in self.layers for e in layer.encoders.values()))

    def set_collect_statistics(self, enabled: bool) -> None:
        """Turn the encoders' statistics on or off."""
        for encoder in self.signed_encoders():
            encoder.collect_statistics = bool(enabled)

    def encoder_statistics(self) -> tuple[dict[str, object], ...]:
        """Each encoder's statistics of the last forward (see ``SignedQCFSSequenceEncoder.statistics``)."""
        return tuple(encoder.statistics() for encoder in self.signed_encoders())

    def structure_summary(self) -> dict[str, object]:
        """How many operators of each kind the conversion made."""
        modules, encoders = tuple(self.modules()), self.signed_encoders()

        def count(kind: type) -> int:
            return sum(isinstance(m, kind) for m in modules)

        return {"converted_decoder_count": len(self.layers), "td_rms_norm_count": count(TDRMSNorm),
                "td_linear_count": count(TDLinear), "td_silu_count": count(TDSiLU),
                "td_elementwise_product_count": count(SNNElementWiseProduct),
                "td_sdpa_count": count(TDScaledDotProductAttention), "signed_if_encoder_count": len(encoders),
                "activation_aware_if_node_count": 2 * len(encoders),
                "activation_aware_if_step_modes": sorted({e.positive_neuron.step_mode for e in encoders}),
                "lm_head_tied_to_embedding": self.lm_head.weight is self.embed_tokens.weight}

    @property
    def device(self) -> torch.device:
        return self.embed_tokens.weight.device

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def get_output_embeddings(self) -> TDLinear:
        return self.lm_head

    def tie_weights(self) -> None:
        """Share the embedding matrix with the head when the config ties them."""
        if bool(getattr(self.config, "tie_word_embeddings", False)):
            self.lm_head.weight = self.embed_tokens.weight

    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *, max_new_tokens: int,
                 do_sample: bool = False, num_beams: int = 1, **_: object) -> torch.Tensor:
        """Greedy decoding with the key/value cache: ``[B, S]`` → ``[B, S + max_new_tokens]``."""
        from sj.functional import reset_net

        if do_sample or num_beams != 1:
            raise ValueError("the converted Qwen2 decodes greedily only (do_sample=False, num_beams=1)")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be non-negative, got {max_new_tokens}")
        with torch.inference_mode():
            tokens = input_ids
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            cache = None
            for step in range(max_new_tokens):
                reset_net(self)
                out = self(input_ids=tokens if step == 0 else tokens[:, -1:], attention_mask=mask,
                           past_key_values=cache, use_cache=True)
                cache = out.past_key_values
                token = out.logits[:, -1].argmax(-1, keepdim=True)
                tokens, mask = torch.cat((tokens, token), dim=1), torch.cat((mask, torch.ones_like(token)), dim=1)
            return tokens

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, *,
                position_ids: torch.Tensor | None = None, encoding_mode: str | None = None,
                past_key_values: Qwen2Cache | None = None, use_cache: bool = False, **_: object) -> SimpleNamespace:
        mode = encoding_mode or "signed_if"
        if mode not in ENCODING_MODES:
            raise ValueError(f"encoding_mode must be one of {ENCODING_MODES}, got {encoding_mode!r}")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if past_key_values is not None and not use_cache:
            raise ValueError("past_key_values requires use_cache=True")
        past_length = 0 if past_key_values is None else past_key_values.get_seq_length()
        if use_cache and past_key_values is None:
            past_key_values = Qwen2Cache(len(self.layers))
        embeddings = self.embed_tokens(input_ids)
        if position_ids is None:  # positions count real tokens: left padding does not shift them
            position_ids = attention_mask.long().cumsum(-1) - 1
            position_ids = position_ids.masked_fill(~attention_mask.bool(), 0)[:, -input_ids.shape[1]:]
        elif tuple(position_ids.shape) != tuple(input_ids.shape):
            raise ValueError(f"position_ids must have input_ids' shape {tuple(input_ids.shape)}, got "
                             f"{tuple(position_ids.shape)}")
        cos, sin = self.rotary_emb(embeddings, position_ids.to(device=input_ids.device, dtype=torch.long))
        causal = causal_mask(attention_mask, input_ids.shape[1], past_length)
        value_mask = attention_mask[:, -input_ids.shape[1]:]
        if mode == "exact_td":
            hidden = first_step_only(embeddings, False, self.time_steps)
        elif mode == "qcfs_sg":
            hidden = first_step_only(self.input_encoder.reconstruct(embeddings), False, self.time_steps)
        else:
            hidden = self.input_encoder.encode(embeddings, value_mask)
        for layer in self.layers:
            hidden = layer(hidden, cos=cos, sin=sin, attention_mask=causal, value_mask=value_mask,
                           encoding_mode=mode, cache=past_key_values)
        hidden = self.norm(hidden)
        with torch.amp.autocast(hidden.device.type, enabled=False):
            bias = None if self.lm_head.bias is None else self.lm_head.bias.float()
            logits = F.linear(hidden.sum(0).float(), self.lm_head.weight.float(), bias)
        return SimpleNamespace(logits=logits, past_key_values=past_key_values)
