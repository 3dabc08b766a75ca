"""SpikingJelly 2.0's post-training conversion of a Hugging Face Qwen2 causal LM to a spiking LM
(:class:`~sj.ann2snn.qwen2_snn.Qwen2SNNModel`):

1. ``calibration = calibrate_qwen2_snn(model, batches, Qwen2SNNConfig(...))`` runs the model on calibration batches
   (dicts with ``input_ids`` and ``attention_mask``) and records, per channel, a quantile of the magnitude of the
   input embeddings and of every decoder's queries and keys (after the rotary embedding), values and MLP product,
   over the non-padding tokens; each scale is that bound over ``calibration_levels``.
2. ``ModuleConverter(recipe=Qwen2SNNRecipe(calibration, config)).convert(model)`` builds the spiking model.

The model is read through its attributes; ``transformers`` is not imported (``pip install sj-models[qwen]`` installs
a version to build one). Only ``model_type == 'qwen2'`` with SiLU, no sliding window and no multimodal RoPE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from sj.ann2snn.qwen2_snn import SCALE_NAMES, Qwen2SNNModel, merge_heads, rotate, split_heads
from sj.ann2snn.recipes.base import ModuleConversionRecipe

if TYPE_CHECKING:
    from sj.ann2snn.converter import ModuleConverter

__all__ = ["Qwen2SNNCalibration", "Qwen2SNNConfig", "Qwen2SNNModel", "Qwen2SNNRecipe", "calibrate_qwen2_snn"]


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Qwen2SNNConfig:
    """Conversion settings.

    Args:
        time_steps: ``T``, the steps of every sequence (and the largest spike count per sign). Default 32.
        calibration_levels: quantization levels of a calibrated bound, in ``[1, T]``. Default 16.
        calibration_quantile: the per-channel quantile of ``|activation|`` taken as the bound, in ``(0, 1]`` (1: the
            maximum, exact; below 1: from a reservoir sample). Default 1.0.
        calibration_reservoir_size: tokens kept per observed activation for a quantile below 1. Default 4096.
        calibration_seed: seed of the reservoir's priority sampling. Default 20260719.
    """

    time_steps: int = 32
    calibration_levels: int = 16
    calibration_quantile: float = 1.0
    calibration_reservoir_size: int = 4096
    calibration_seed: int = 20260719

    def __post_init__(self) -> None:
        for name in ("time_steps", "calibration_levels", "calibration_reservoir_size", "calibration_seed"):
            if not _integer(getattr(self, name)):
                raise TypeError(f"Qwen2SNNConfig: {name} must be an integer, got {getattr(self, name)!r}")
        if self.time_steps <= 0:
            raise ValueError(f"Qwen2SNNConfig: time_steps must be positive, got {self.time_steps}")
        if not 0 < self.calibration_levels <= self.time_steps:
            raise ValueError(f"Qwen2SNNConfig: calibration_levels must lie in [1, time_steps={self.time_steps}], got "
                             f"{self.calibration_levels}")
        if not 0.0 < float(self.calibration_quantile) <= 1.0:
            raise ValueError(f"Qwen2SNNConfig: calibration_quantile must lie in (0, 1], got "
                             f"{self.calibration_quantile}")
        if self.calibration_reservoir_size <= 0:
            raise ValueError(f"Qwen2SNNConfig: calibration_reservoir_size must be positive, got "
                             f"{self.calibration_reservoir_size}")


_SETTINGS = ("time_steps", "calibration_levels", "calibration_quantile", "calibration_reservoir_size",
             "calibration_seed")


@dataclass(frozen=True)
class Qwen2SNNCalibration:
    """The calibrated scales: ``input_scale`` ``[hidden_size]`` and, per decoder, ``query``/``key``/``value``/``mlp``
    scales; the :class:`Qwen2SNNConfig` settings they were made with, and the number of tokens observed."""

    input_scale: torch.Tensor
    layer_scales: tuple[Mapping[str, torch.Tensor], ...]
    time_steps: int
    calibration_levels: int
    calibration_quantile: float
    calibration_reservoir_size: int
    calibration_seed: int
    valid_token_count: int

    def state_dict(self) -> dict[str, object]:
        """A plain dict (``torch.save``-able): the settings and ``tensors`` ``{'input', 'layer.{i}.{name}'}``."""
        tensors = {"input": self.input_scale.detach().cpu()}
        tensors.update({f"layer.{i}.{name}": value.detach().cpu() for i, group in enumerate(self.layer_scales)
                        for name, value in group.items()})
        return {**{name: getattr(self, name) for name in _SETTINGS}, "valid_token_count": self.valid_token_count,
                "tensors": tensors}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, object]) -> Qwen2SNNCalibration:
        """The calibration :meth:`state_dict` describes (``ValueError`` for a malformed one)."""
        tensors = state.get("tensors")
        if not isinstance(tensors, Mapping) or not isinstance(tensors.get("input"), torch.Tensor):
            raise ValueError("Qwen2SNNCalibration state must hold a tensor 'input' under 'tensors'")
        layers: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key == "input":
                continue
            parts = str(key).split(".")
            if len(parts) != 3 or parts[0] != "layer" or not parts[1].isdigit() or not isinstance(value, torch.Tensor):
                raise ValueError(f"Qwen2SNNCalibration state: invalid tensor key {key!r}")
            layers.setdefault(int(parts[1]), {})[parts[2]] = value
        if sorted(layers) != list(range(len(layers))):
            raise ValueError("Qwen2SNNCalibration state: layer indices must run from 0 without gaps")
        if any(set(group) != set(SCALE_NAMES) for group in layers.values()):
            raise ValueError(f"Qwen2SNNCalibration state: every layer needs the scales {SCALE_NAMES}")
        return cls(input_scale=tensors["input"], layer_scales=tuple(layers[i] for i in range(len(layers))),
                   time_steps=int(state["time_steps"]), calibration_levels=int(state["calibration_levels"]),
                   calibration_quantile=float(state["calibration_quantile"]),
                   calibration_reservoir_size=int(state["calibration_reservoir_size"]),
                   calibration_seed=int(state["calibration_seed"]), valid_token_count=int(state["valid_token_count"]))


class _ChannelObserver:
    """Per-channel bound of ``|activation|`` over the tokens of a mask: the running maximum (quantile 1), or the
    quantile of a reservoir of tokens kept by random priority (a seeded CPU generator, so runs are reproducible)."""

    def __init__(self, quantile: float, reservoir_size: int, seed: int) -> None:
        self.quantile, self.reservoir_size = quantile, reservoir_size
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.samples: torch.Tensor | None = None
        self.priorities: torch.Tensor | None = None
        self.valid_token_count = 0

    def update(self, activation: torch.Tensor, mask: torch.Tensor) -> None:
        tokens = activation.detach()[mask.to(torch.bool)]  # [n, C]
        if tokens.numel() == 0:
            raise ValueError("Qwen2 calibration: a batch has no valid token (its attention_mask is all zero)")
        self.valid_token_count += int(tokens.shape[0])
        if self.quantile == 1.0:
            peak = tokens.abs().amax(0, keepdim=True)
            self.samples = peak if self.samples is None else torch.maximum(self.samples, peak)
            return
        priorities = torch.rand(tokens.shape[0], generator=self.generator)
        priorities, chosen = priorities.topk(min(self.reservoir_size, int(tokens.shape[0])))
        samples = tokens.index_select(0, chosen.to(tokens.device)).abs().to("cpu", torch.float32)
        if self.samples is not None:
            samples, priorities = torch.cat((self.samples, samples)), torch.cat((self.priorities, priorities))
        self.priorities, kept = priorities.topk(min(self.reservoir_size, int(samples.shape[0])))
        self.samples = samples.index_select(0, kept)

    def scale(self, levels: int) -> torch.Tensor:
        if self.samples is None:
            raise RuntimeError("Qwen2 calibration observed no values (no calibration batch?)")
        bound = self.samples.squeeze(0) if self.quantile == 1.0 else torch.quantile(self.samples, self.quantile,
                                                                                    dim=0)
        return bound.clamp_min(1e-6) / levels


def _decoder_layers(model: nn.Module) -> Sequence[nn.Module]:
    """The decoder layers of a supported Qwen2 causal LM in evaluation mode (``TypeError``/``ValueError`` if not)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) != "qwen2":
        raise TypeError(f"Qwen2SNNRecipe needs a Hugging Face Qwen2 causal LM (config.model_type 'qwen2'), got "
                        f"{type(model).__name__}")
    for flag, what in (("use_sliding_window", "sliding-window attention"), ("use_mrope", "multimodal RoPE")):
        if bool(getattr(config, flag, False)):
            raise ValueError(f"Qwen2SNNRecipe does not support {what} ({flag}=True)")
    if getattr(config, "hidden_act", "silu") != "silu":
        raise ValueError(f"Qwen2SNNRecipe needs hidden_act='silu', got {config.hidden_act!r}")
    if model.training:
        raise ValueError("Qwen2SNNRecipe needs the model in evaluation mode: call model.eval()")
    layers = getattr(getattr(model, "model", None), "layers", None)
    if not isinstance(layers, (nn.ModuleList, list, tuple)):
        raise TypeError("a Qwen2 causal LM has its decoder layers at model.layers")
    if len(layers) != int(config.num_hidden_layers):
        raise ValueError(f"the config says {config.num_hidden_layers} decoder layers, the model has {len(layers)}")
    return layers


def calibrate_qwen2_snn(model: nn.Module, calibration_batches: Iterable[Mapping[str, torch.Tensor]],
                        config: Qwen2SNNConfig) -> Qwen2SNNCalibration:
    """Calibrate the scales of ``model`` (a Qwen2 causal LM in eval mode) on ``calibration_batches`` (dicts with
    tensors ``input_ids`` and ``attention_mask`` ``[B, S]``); see the module docstring."""
    layers = list(_decoder_layers(model))

    def observer() -> _ChannelObserver:
        return _ChannelObserver(config.calibration_quantile, config.calibration_reservoir_size, config.calibration_seed)

    embeddings, per_layer = observer(), [{name: observer() for name in SCALE_NAMES} for _ in layers]
    current: dict[str, torch.Tensor] = {}

    def on_attention(module: nn.Module, args: tuple, kwargs: dict, index: int) -> None:
        hidden = kwargs["hidden_states"]
        heads, kv_heads, dim = (int(module.config.num_attention_heads), int(module.config.num_key_value_heads),
                                int(module.head_dim))
        query = split_heads(module.q_proj(hidden), heads, dim)
        key = split_heads(module.k_proj(hidden), kv_heads, dim)
        query, key = rotate(query, key, *kwargs["position_embeddings"])
        value = split_heads(module.v_proj(hidden), kv_heads, dim)
        for name, x in (("query", query), ("key", key), ("value", value)):
            per_layer[index][name].update(merge_heads(x), current["mask"])

    def on_mlp(module: nn.Module, args: tuple, index: int) -> None:
        hidden = args[0]
        per_layer[index]["mlp"].update(module.act_fn(module.gate_proj(hidden)) * module.up_proj(hidden),
                                       current["mask"])

    hooks = [model.model.embed_tokens.register_forward_hook(
        lambda module, args, out: embeddings.update(out, current["mask"]))]
    for i, layer in enumerate(layers):
        hooks.append(layer.self_attn.register_forward_pre_hook(
            lambda m, a, kw, i=i: on_attention(m, a, kw, i), with_kwargs=True))
        hooks.append(layer.mlp.register_forward_pre_hook(lambda m, a, i=i: on_mlp(m, a, i)))
    try:
        with torch.no_grad():
            for batch in calibration_batches:
                input_ids, mask = batch.get("input_ids"), batch.get("attention_mask")
                if not isinstance(input_ids, torch.Tensor) or not isinstance(mask, torch.Tensor):
                    raise TypeError("Qwen2 calibration batches are dicts with tensors 'input_ids' and "
                                    "'attention_mask'")
                current["mask"] = mask
                model(input_ids=input_ids, attention_mask=mask, use_cache=False, return_dict=True)
    finally:
        for hook in hooks:
            hook.remove()
    levels = config.calibration_levels
    return Qwen2SNNCalibration(
        input_scale=embeddings.scale(levels),
        layer_scales=tuple({name: obs.scale(levels) for name, obs in group.items()} for group in per_layer),
        **{name: getattr(config, name) for name in _SETTINGS}, valid_token_count=embeddings.valid_token_count)


class Qwen2SNNRecipe(ModuleConversionRecipe):
    """``ModuleConverter`` recipe: a Qwen2 causal LM → :class:`~sj.ann2snn.qwen2_snn.Qwen2SNNModel` with the scales of
    ``calibration`` (made with the same ``config``, else ``ValueError``). The model must be in evaluation mode."""

    def __init__(self, calibration: Qwen2SNNCalibration, config: Qwen2SNNConfig) -> None:
        self.calibration, self.config = calibration, config

    def validate(self, converter: ModuleConverter) -> None:
        for name in _SETTINGS:
            if getattr(self.calibration, name) != getattr(self.config, name):
                raise ValueError(f"Qwen2SNNRecipe: the calibration's {name} ({getattr(self.calibration, name)!r}) "
                                 f"differs from the config's ({getattr(self.config, name)!r})")

    def convert_module(self, converter: ModuleConverter, ann: nn.Module) -> Qwen2SNNModel:
        layers = _decoder_layers(ann)
        if len(layers) != len(self.calibration.layer_scales):
            raise ValueError(f"Qwen2SNNRecipe: the calibration has {len(self.calibration.layer_scales)} layers, the "
                             f"model {len(layers)}")
        return Qwen2SNNModel(ann, self.calibration, self.config).eval()
