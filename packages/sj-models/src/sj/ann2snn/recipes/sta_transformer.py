"""SpikingJelly 2.0's STA transformer recipe (spatio-temporal approximation, Jiang et al., ICLR 2024): a trained
transformer becomes a network of time-difference operators run on ``T`` steps, optionally with spike encoders.

``Converter(recipe=STATransformerRecipe(dataloader, time_steps, mode=...)).convert(ann)`` is the TD-equivalent
conversion (:class:`~sj.ann2snn.recipes.transformer_td_equivalent.TransformerTDEquivalentRecipe`: ``nn.Linear``,
``nn.Conv2d``, ``nn.LayerNorm``, ``nn.GELU``, ``nn.MultiheadAttention``, ... → TD operators) plus two things:

- every floating-point tensor the model reads as an attribute (class token, position embeddings, a matrix given to
  ``matmul``; not a mask given to an attention) becomes an :class:`~sj.ann2snn.sta.STAConstant` that carries it at
  the first step only;
- ``mode='spiking_encoder'``: the output of every ``nn.LayerNorm``, ``nn.GELU`` and ``nn.MultiheadAttention`` module
  (its first output) goes through an :class:`~sj.ann2snn.sta.STASpikeEncoder` whose per-channel step θ is calibrated
  on ``dataloader`` (:func:`~sj.ann2snn.sta.sta_threshold`, momentum over batches, times ``threshold_scale``).

``mode='equivalent'`` (the default) needs no data: summed over the steps, the outputs equal the ANN on the input fed
at the first step (zeros after). The result takes ``[T, N, *]`` in step mode ``'m'`` (its default) or one step per
call after ``sj.functional.set_step_mode(snn, 's')``. ``'spiking_affine'`` (spiking linear and convolution layers)
is refused, as in SpikingJelly 2.0.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.utils._pytree import tree_map

from sj.ann2snn.recipes.base import progress_bar
from sj.ann2snn.recipes.transformer_td_equivalent import TransformerTDEquivalentRecipe
from sj.ann2snn.sta import STAConstant, STASpikeEncoder, sta_threshold

if TYPE_CHECKING:
    from sj.ann2snn.converter import FXConverter

__all__ = ["STATransformerRecipe"]

_MODES = ("equivalent", "spiking_encoder", "spiking_affine")
# keyword arguments that carry masks or other tensors that are not activations: their attributes stay constant
_STATIC_TENSOR_KWARGS = frozenset({"attention_mask", "attn_mask", "causal_mask", "decoder_attention_mask",
                                   "encoder_attention_mask", "key_padding_mask", "mask", "padding_mask"})
_ENCODED = (nn.LayerNorm, nn.GELU, nn.MultiheadAttention)


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and math.isfinite(value)


class _ThresholdObserver:
    """Forward hook: the threshold of each calibration batch's output, averaged with ``momentum``."""

    def __init__(self, time_steps: int, mode: str, momentum: float, eps: float) -> None:
        self.time_steps, self.mode, self.momentum, self.eps = time_steps, mode, momentum, eps
        self.threshold: torch.Tensor | None = None

    def __call__(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        if isinstance(output, (tuple, list)):
            output = output[0]
        if not torch.is_tensor(output):
            raise TypeError(f"STA calibration: {type(module).__name__} returned {type(output).__name__}, not a tensor")
        theta = sta_threshold(output.detach(), self.time_steps, -1, self.mode, self.eps)
        self.threshold = theta if self.threshold is None else (
            (1 - self.momentum) * self.threshold.to(theta) + self.momentum * theta)


class STATransformerRecipe(TransformerTDEquivalentRecipe):
    """STA conversion of a transformer (see the module docstring). SpikingJelly's arguments:

    Args:
        dataloader: calibration batches (needed by ``mode='spiking_encoder'``): a tensor (the input), a tuple or list
            (its first element is the input, or the positional inputs when it is itself a tuple/list, followed by an
            optional dict of keyword inputs) or a dict (keyword inputs).
        time_steps: ``T`` the thresholds are calibrated for (and the network's ``time_steps``). Default 32.
        mode: ``'equivalent'`` or ``'spiking_encoder'`` (``'spiking_affine'`` is refused).
        threshold_mode: ``'mse'`` (default) or ``'max'``; threshold_scale: factor on every threshold (default 1).
        spike_linear, spike_conv2d, spike_classifier: spiking affine layers; must be off (``spike_linear`` defaults
            to ``mode == 'spiking_affine'``).
        momentum: weight of each new batch's threshold in ``[0, 1]`` (default 0.1; the first batch sets it).
        num_calibration_batches: stop after this many batches (default: the whole loader).
        show_progress: a progress bar during calibration. eps: smallest magnitude a threshold is computed from.
    """

    unused_attention_weights_ok = True

    def __init__(self, dataloader: Iterable | None = None, time_steps: int = 32, mode: str = "equivalent",
                 threshold_mode: str = "mse", threshold_scale: float = 1.0, spike_linear: bool | None = None,
                 spike_conv2d: bool | None = None, spike_classifier: bool = False, momentum: float = 0.1,
                 num_calibration_batches: int | None = None, show_progress: bool = False, eps: float = 1e-6) -> None:
        super().__init__(time_steps)
        self.dataloader = dataloader
        self.mode = mode
        self.threshold_mode = threshold_mode.lower() if isinstance(threshold_mode, str) else threshold_mode
        self.threshold_scale = threshold_scale
        self.spike_linear = mode == "spiking_affine" if spike_linear is None else spike_linear
        self.spike_conv2d = False if spike_conv2d is None else spike_conv2d
        self.spike_classifier = spike_classifier
        self.momentum = momentum
        self.num_calibration_batches = num_calibration_batches
        self.show_progress = show_progress
        self.eps = eps
        self._observers: dict[str, _ThresholdObserver] = {}
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []

    def validate(self, converter: FXConverter) -> None:
        t, n = self.time_steps, self.num_calibration_batches
        checks = (
            (isinstance(t, int) and not isinstance(t, bool) and t > 0, f"time_steps must be a positive integer, "
                                                                        f"got {t!r}"),
            (self.mode in _MODES, f"mode must be one of {_MODES}, got {self.mode!r}"),
            (self.threshold_mode in ("mse", "max"), f"threshold_mode must be 'mse' or 'max', got "
                                                    f"{self.threshold_mode!r}"),
            (_positive_number(self.threshold_scale), f"threshold_scale must be a positive finite number, got "
                                                     f"{self.threshold_scale!r}"),
            (all(isinstance(f, bool) for f in (self.spike_linear, self.spike_conv2d, self.spike_classifier,
                                                self.show_progress)),
             "spike_linear, spike_conv2d, spike_classifier and show_progress must be bools"),
            (isinstance(self.momentum, (int, float)) and not isinstance(self.momentum, bool)
             and 0.0 <= self.momentum <= 1.0, f"momentum must be a number in [0, 1], got {self.momentum!r}"),
            (n is None or (isinstance(n, int) and not isinstance(n, bool) and n > 0),
             f"num_calibration_batches must be a positive integer or None, got {n!r}"),
            (_positive_number(self.eps), f"eps must be a positive finite number, got {self.eps!r}"),
            (not (self.mode == "spiking_affine" or self.spike_linear or self.spike_conv2d),
             "spiking affine layers (mode='spiking_affine', spike_linear, spike_conv2d) are not supported: use mode "
             "'equivalent' or 'spiking_encoder'"),
            (self.mode != "spiking_encoder" or self.dataloader is not None,
             "mode='spiking_encoder' calibrates its encoders: pass dataloader="),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(f"STATransformerRecipe: {message}")

    # --------------------------------------------------------------------------------------------- calibration
    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        self._remove_hooks()
        self._observers = {}
        if self.mode != "spiking_encoder":
            return fx_model
        for node in fx_model.graph.nodes:
            if node.op == "call_module" and node.target not in self._observers and isinstance(
                    module := fx_model.get_submodule(node.target), _ENCODED):
                observer = _ThresholdObserver(self.time_steps, self.threshold_mode, self.momentum, self.eps)
                self._observers[node.target] = observer
                self._hooks.append(module.register_forward_hook(observer))
        return fx_model

    def calibrate(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        if not self._observers:
            return fx_model
        total = self.num_calibration_batches
        try:
            for i, batch in enumerate(progress_bar(self.dataloader, self.show_progress, total, "STA calibration")):
                if total is not None and i >= total:
                    break
                args, kwargs = _batch_inputs(batch, converter.device)
                fx_model(*args, **kwargs)
        finally:
            self._remove_hooks()
        return fx_model

    def _remove_hooks(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    # --------------------------------------------------------------------------------------------- conversion
    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        self._remove_hooks()
        if self.mode == "spiking_encoder":
            self._insert_encoders(fx_model)
        self._wrap_constants(fx_model)
        self.convert_operators(fx_model)
        self._check_linear_rest(fx_model, allowed=(STAConstant, STASpikeEncoder))
        return self.fold_time(fx_model, converter.device, timed=(STAConstant, STASpikeEncoder))

    def finalize(self, converter: FXConverter, fx_model: fx.GraphModule) -> nn.Module:
        object.__setattr__(fx_model, "ann2snn_recipe", "sta_transformer")
        object.__setattr__(fx_model, "time_steps", self.time_steps)
        return fx_model

    def _insert_encoders(self, fx_model: fx.GraphModule) -> None:
        """An encoder after every observed module call (an attention's: after its first output)."""
        for node in list(fx_model.graph.nodes):
            if node.op != "call_module" or node.target not in self._observers:
                continue
            observer = self._observers[node.target]
            if observer.threshold is None:
                raise ValueError(f"STATransformerRecipe: {node.target!r} saw no calibration data (is the dataloader "
                                 "empty, or the module not on the path of the data?)")
            theta = observer.threshold
            if not torch.isfinite(theta).all() or (theta <= 0).any():
                raise ValueError(f"STATransformerRecipe: the threshold of {node.target!r} is not finite and positive")
            out = node
            if isinstance(fx_model.get_submodule(node.target), nn.MultiheadAttention):
                out = next((u for u in node.users if u.op == "call_function" and u.target is operator.getitem
                            and u.args[1] == 0), None)
                if out is None:
                    raise ValueError(f"STATransformerRecipe: the output of attention {node.target!r} must be unpacked "
                                     "(out = attn(...)[0]) to be encoded")
            self._insert_after(fx_model, out, f"{out.target if isinstance(out.target, str) else out.name}_sta_encoder",
                               STASpikeEncoder(theta * self.threshold_scale, channel_dim=-1, step_mode="m"))

    @staticmethod
    def _insert_after(fx_model: fx.GraphModule, node: fx.Node, name: str, module: nn.Module) -> None:
        existing = {n for n, _ in fx_model.named_modules()}
        target, i = name, 0
        while target in existing:
            i += 1
            target = f"{name}_{i}"
        fx_model.add_submodule(target, module)
        with fx_model.graph.inserting_after(node):
            new = fx_model.graph.call_module(target, (node,))
        node.replace_all_uses_with(new, delete_user_cb=lambda user: user is not new)

    def _wrap_constants(self, fx_model: fx.GraphModule) -> None:
        """Every floating tensor attribute the graph reads, except masks → STAConstant (a parameter multiplied with
        ``matmul`` too: the TD product then sees it at the first step, as it sees the activations)."""
        i = 0
        existing = {n for n, _ in fx_model.named_modules()}
        for node in list(fx_model.graph.nodes):
            if node.op != "get_attr":
                continue
            value = _attribute(fx_model, node.target)
            if not (torch.is_tensor(value) and value.is_floating_point()) or _static(node):
                continue
            while f"sta_time_constant_{i}" in existing:
                i += 1
            target = f"sta_time_constant_{i}"
            existing.add(target)
            fx_model.add_submodule(target, STAConstant(value, self.time_steps, step_mode="m"))
            with fx_model.graph.inserting_after(node):
                new = fx_model.graph.call_module(target, ())
            node.replace_all_uses_with(new)
            fx_model.graph.erase_node(node)


def _attribute(root: nn.Module, target: str) -> Any:
    value: Any = root
    for atom in target.split("."):
        value = getattr(value, atom)
    return value


def _static(node: fx.Node) -> bool:
    """Used as a mask: an attention's ``key_padding_mask``/``attn_mask``, SDPA's ``attn_mask``, or a keyword named like
    a mask."""
    for user in node.users:
        if any(k in _STATIC_TENSOR_KWARGS and v is node for k, v in user.kwargs.items()):
            return True
        args = tuple(user.args)
        if user.op == "call_module" and isinstance(user.graph.owning_module.get_submodule(user.target),
                                                   nn.MultiheadAttention):
            if (len(args) > 3 and args[3] is node) or (len(args) > 5 and args[5] is node):
                return True
        if user.op == "call_function" and user.target is F.scaled_dot_product_attention and len(args) > 3 \
                and args[3] is node:
            return True
    return False


def _batch_inputs(batch: Any, device: torch.device) -> tuple[tuple, dict]:
    """Positional and keyword inputs of a calibration batch (see the class docstring), moved to ``device``."""
    def move(value: Any) -> Any:
        return tree_map(lambda t: t.to(device) if torch.is_tensor(t) else t, value)

    if isinstance(batch, dict):
        return (), move(batch)
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError("STATransformerRecipe: a calibration batch is empty")
        if isinstance(batch[0], (tuple, list)):
            kwargs = move(batch[1]) if len(batch) > 1 and isinstance(batch[1], dict) else {}
            return tuple(move(v) for v in batch[0]), kwargs
        return (move(batch[0]),), {}
    return (move(batch),), {}
