"""SpikingJelly 2.0's TD-equivalent transformer recipe: every nonlinear or parameterised operation of a transformer
becomes its time-difference operator (:mod:`sj.ann2snn.operators`), so that the converted network's outputs, summed
over the time steps, equal the ANN's output on the summed input — exactly up to rounding, for any ``T``.

Converted: ``nn.Linear``, ``nn.Conv2d``, ``nn.LayerNorm``, ``nn.RMSNorm``, ``nn.GELU``, ``nn.SiLU``, ``nn.Tanh``,
``nn.Softmax``, ``nn.MultiheadAttention`` (``batch_first``, no dropout, ``need_weights=False``), and the functions
``F.silu``, ``F.gelu``, ``tanh``, ``softmax``, ``matmul`` (of two activations) and ``F.scaled_dot_product_attention``.
What remains must be linear in the activations (additions, scaling by constants, reshapes, dropout in eval mode);
anything else raises ``ValueError`` naming it. The result takes ``[T, N, *]`` in step mode ``'m'`` (its default);
feed the input at the first step and zeros after it (or spread it over the steps) and sum the outputs over time.
"""

from __future__ import annotations

import copy
import operator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from sj.ann2snn.graph import add_time_folding, replace_submodule, unwrap_step_layers
from sj.ann2snn.modules import TimeContext, TimeFold, TimeUnfold
from sj.ann2snn.operators import (
    TDGELU,
    SNNMatrixOperator,
    TDModule,
    TDMultiheadAttention,
    TDScaledDotProductAttention,
    TDSiLU,
    TDSoftmax,
    TDTanh,
    td_module_from_ann,
)
from sj.ann2snn.recipes.base import FXConversionRecipe

if TYPE_CHECKING:
    from sj.ann2snn.converter import FXConverter

__all__ = ["TransformerTDEquivalentRecipe"]

_LINEAR_MODULES = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Flatten, nn.Unflatten,
                   TimeFold, TimeUnfold)
_LINEAR_FUNCTIONS = {operator.add, operator.sub, operator.neg, operator.getitem, getattr, torch.add, torch.sub,
                     torch.neg, torch.flatten, torch.reshape, torch.transpose, torch.permute, torch.unsqueeze,
                     torch.squeeze, torch.cat, torch.concat, torch.stack, torch.chunk, torch.split, F.dropout,
                     torch.mean, torch.sum, torch._assert, operator.eq, operator.floordiv}
_SCALING = {operator.mul, operator.truediv, torch.mul, torch.div}
_LINEAR_METHODS = {"view", "reshape", "transpose", "permute", "flatten", "unflatten", "contiguous", "size", "dim",
                   "expand", "unsqueeze", "squeeze", "chunk", "split", "add", "sub", "neg", "mean", "sum",
                   "__getitem__", "to", "type_as", "float"}


def _argument(node: fx.Node, name: str, position: int, default: Any = None) -> Any:
    if name in node.kwargs:
        return node.kwargs[name]
    return node.args[position] if len(node.args) > position else default


def _softmax_dim(dim: Any) -> int:
    if not isinstance(dim, int):
        raise ValueError(f"TD softmax conversion requires literal int dim, got {dim!r}")
    return dim + 1 if dim >= 0 else dim  # the sequence has time in front


def _is_activation(value: Any) -> bool:
    """Best effort: an fx node that is a tensor computed from the inputs (not a size, a shape or a constant)."""
    if not isinstance(value, fx.Node):
        return False
    if value.op in ("get_attr",) or (value.op == "call_method" and value.target in ("size", "dim")):
        return False
    return not (value.op == "call_function" and value.target is getattr)


class TransformerTDEquivalentRecipe(FXConversionRecipe):
    """TD-equivalent conversion of a transformer (see the module docstring).

    Args:
        time_steps: the number of steps the converted network is meant to run (stored as its ``time_steps``
            attribute; the operators work for any ``T``). ``None`` by default.
    """

    def __init__(self, time_steps: int | None = None) -> None:
        self.time_steps = time_steps
        self._anns: dict[str, nn.Module] = {}  # the ANN module of each converted target (for its later calls)

    def validate(self, converter: FXConverter) -> None:
        t = self.time_steps
        if t is not None and (isinstance(t, bool) or not isinstance(t, int) or t <= 0):
            raise ValueError(f"time_steps must be a positive integer when set, got {t!r}")

    def before_trace(self, converter: FXConverter, ann: nn.Module) -> nn.Module:
        return copy.deepcopy(ann)

    def after_trace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        unwrap_step_layers(fx_model)
        return fx_model

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        self.convert_operators(fx_model)
        self._check_linear_rest(fx_model)
        return self.fold_time(fx_model, converter.device)

    # MultiheadAttention calls without need_weights=False whose weights go unused are accepted (STA's rule)
    unused_attention_weights_ok = False

    def convert_operators(self, fx_model: fx.GraphModule) -> None:
        """Replace every convertible module and function call of the graph by its TD operator."""
        converted: dict[str, TDModule] = {}
        self._anns = {}
        for node in list(fx_model.graph.nodes):
            if node.op == "call_module" and node.target in converted:
                # A module called at several places: each call needs its own running sums (SpikingJelly 2.0 shares
                # them, which mixes the calls' inputs); the copies share the parameters.
                first = converted[node.target]
                twin = self._module_operator(self._anns[node.target], node)
                _share_parameters(first, twin)
                self._insert(fx_model, node, node.target.replace(".", "_"), twin, node.args, node.kwargs)
            elif node.op == "call_module":
                module = fx_model.get_submodule(node.target)
                td = self._module_operator(module, node)
                if td is not None:
                    self._anns[node.target] = module
                    replace_submodule(fx_model, node.target, td)
                    converted[node.target] = td
            elif node.op in ("call_function", "call_method"):
                made = self._function_operator(node)
                if made is not None:
                    prefix, td, args = made
                    self._insert(fx_model, node, prefix, td.train(fx_model.training), args)

    @staticmethod
    def fold_time(fx_model: fx.GraphModule, device: torch.device, timed: tuple[type, ...] = ()) -> fx.GraphModule:
        """Time-fold the graph (step mode ``'m'``: ``[T, N, *]`` in and out, ``[T·N, *]`` inside) and give the TD
        operators and the ``timed`` modules its :class:`~sj.ann2snn.modules.TimeContext`."""
        time = TimeContext()
        add_time_folding(fx_model, time)
        for m in fx_model.modules():
            if isinstance(m, (TDModule, TimeFold, TimeUnfold, *timed)):
                m.time = time
            if isinstance(m, (TimeFold, TimeUnfold)):
                m.step_mode = "m"  # like the TD operators: the converted network takes [T, N, *] by default
        fx_model.delete_all_unused_submodules()
        fx_model.recompile()
        return fx_model.to(device)

    def finalize(self, converter: FXConverter, fx_model: fx.GraphModule) -> nn.Module:
        object.__setattr__(fx_model, "ann2snn_recipe", "transformer_td_equivalent")
        if self.time_steps is not None:
            object.__setattr__(fx_model, "time_steps", self.time_steps)
        return fx_model

    def _module_operator(self, module: nn.Module, node: fx.Node) -> nn.Module | None:
        if isinstance(module, TDModule):
            return None
        if isinstance(module, nn.MultiheadAttention):
            return _td_multihead_attention(module, node, self.unused_attention_weights_ok)
        return td_module_from_ann(module)

    @staticmethod
    def _function_operator(node: fx.Node) -> tuple[str, TDModule, tuple] | None:
        t, method = node.target, node.op == "call_method"
        x = node.args[0] if node.args else node.kwargs.get("input")
        if not method and t is F.silu:
            return "td_silu", TDSiLU(), (x,)
        if not method and t is F.gelu:
            return "td_gelu", TDGELU(_argument(node, "approximate", 1, "none")), (x,)
        if (not method and t in (torch.tanh, F.tanh)) or (method and t == "tanh"):
            return "td_tanh", TDTanh(), (x,)
        if (not method and t in (F.softmax, torch.softmax)) or (method and t == "softmax"):
            return "td_softmax", TDSoftmax(_softmax_dim(_argument(node, "dim", 1))), (x,)
        if (not method and t in (torch.matmul, operator.matmul)) or (method and t == "matmul"):
            return "td_matmul", SNNMatrixOperator(), (x, _argument(node, "other", 1))
        if not method and t is F.scaled_dot_product_attention:
            return "td_scaled_dot_product_attention", *_td_sdpa(node)
        return None

    @staticmethod
    def _insert(fx_model: fx.GraphModule, node: fx.Node, prefix: str, module: nn.Module, args: tuple,
                kwargs: dict | None = None) -> None:
        existing = {n for n, _ in fx_model.named_modules()}
        i = 0
        while f"{prefix}_{i}" in existing:
            i += 1
        fx_model.add_submodule(f"{prefix}_{i}", module)
        with fx_model.graph.inserting_after(node):
            new = fx_model.graph.call_module(f"{prefix}_{i}", args, kwargs)
        node.replace_all_uses_with(new)
        fx_model.graph.erase_node(node)

    def _check_linear_rest(self, fx_model: fx.GraphModule, allowed: tuple[type, ...] = ()) -> None:
        """Raise ``ValueError`` naming every operation left that is not linear in the activations (modules of type
        ``allowed`` pass)."""
        bad = []
        for node in fx_model.graph.nodes:
            if node.op == "call_module":
                m = fx_model.get_submodule(node.target)
                if not isinstance(m, (TDModule, *_LINEAR_MODULES, *allowed)):
                    bad.append(f"module {node.target!r} ({type(m).__name__})")
            elif (node.op == "call_function" and node.target in _SCALING) or (
                    node.op == "call_method" and node.target in ("mul", "div", "mul_", "div_")):
                if sum(_is_activation(a) for a in node.args) > 1:
                    bad.append(f"{getattr(node.target, '__name__', node.target)} of two activations (node "
                               f"{node.name!r})")
            elif node.op == "call_function" and node.target not in _LINEAR_FUNCTIONS:
                bad.append(f"function {getattr(node.target, '__name__', node.target)} (node {node.name!r})")
            elif node.op == "call_method" and node.target not in _LINEAR_METHODS:
                bad.append(f"method .{node.target}() (node {node.name!r})")
        if bad:
            raise ValueError(f"{type(self).__name__} cannot convert " + "; ".join(bad) + ": the rest of the "
                             "graph must be linear in the activations for the TD equivalence to hold")


def _share_parameters(source: nn.Module, target: nn.Module) -> None:
    """Make ``target`` use ``source``'s parameter objects (same names)."""
    for name, p in source.named_parameters():
        parent, _, leaf = name.rpartition(".")
        setattr(target.get_submodule(parent) if parent else target, leaf, p)


def _td_sdpa(node: fx.Node) -> tuple[TDScaledDotProductAttention, tuple]:
    dropout_p = _argument(node, "dropout_p", 4, 0.0)
    if not isinstance(dropout_p, (int, float)) or float(dropout_p) != 0.0:
        raise ValueError(f"TD SDPA conversion only supports literal dropout_p=0.0, but got {dropout_p!r}.")
    if _argument(node, "enable_gqa", 7, False) is not False:
        raise ValueError("TD SDPA conversion does not support enable_gqa=True.")
    is_causal = _argument(node, "is_causal", 5, False)
    if not isinstance(is_causal, bool):
        raise ValueError(f"TD SDPA conversion only supports literal bool is_causal, but got {is_causal!r}.")
    scale = _argument(node, "scale", 6)
    if scale is not None and not isinstance(scale, (int, float)):
        raise ValueError(f"TD SDPA conversion only supports literal numeric scale or None, but got {scale!r}.")
    q, k, v = (_argument(node, name, i) for i, name in enumerate(("query", "key", "value")))
    mask = _argument(node, "attn_mask", 3)
    td = TDScaledDotProductAttention(is_causal=is_causal, scale=None if scale is None else float(scale))
    return td, (q, k, v) if mask is None else (q, k, v, mask)


def _attention_weights_used(node: fx.Node) -> bool:
    """Whether the attention weights (``output[1]``) of a MultiheadAttention call feed anything."""
    return any(u.op == "call_function" and u.target is operator.getitem and u.args[1] == 1 and u.users
               for u in node.users)


def _td_multihead_attention(module: nn.MultiheadAttention, node: fx.Node,
                            unused_weights_ok: bool = False) -> TDMultiheadAttention:
    need_weights = _argument(node, "need_weights", 4, None)
    weights_refused = need_weights is not False and not (
        unused_weights_ok and need_weights is None and not _attention_weights_used(node))
    problems = [what for bad, what in (
        (module.dropout != 0.0, "dropout=0.0"), (not module.batch_first, "batch_first=True"),
        (module.kdim != module.embed_dim or module.vdim != module.embed_dim, "kdim == vdim == embed_dim"),
        (module.in_proj_weight is None, "a packed in_proj_weight"),
        (module.bias_k is not None or module.bias_v is not None, "no add_bias_kv"),
        (module.add_zero_attn, "no add_zero_attn"),
        (weights_refused, "need_weights=False in the call" + (" (or its weights unused)" if unused_weights_ok else "")),
        (_argument(node, "key_padding_mask", 3) is not None, "no key_padding_mask"),
        (_argument(node, "average_attn_weights", 6, True) is not True, "average_attn_weights=True")) if bad]
    if problems:
        raise ValueError(f"TD MHA conversion of {node.target!r} requires {', '.join(problems)}")
    w = module.in_proj_weight
    td = TDMultiheadAttention(module.embed_dim, module.num_heads, bias=module.in_proj_bias is not None,
                              device=w.device, dtype=w.dtype)
    with torch.no_grad():
        for proj, weight in zip((td.q_proj, td.k_proj, td.v_proj), w.chunk(3)):
            proj.weight.copy_(weight)
        if module.in_proj_bias is not None:
            for proj, bias in zip((td.q_proj, td.k_proj, td.v_proj), module.in_proj_bias.chunk(3)):
                proj.bias.copy_(bias)
        td.out_proj.weight.copy_(module.out_proj.weight)
        if module.out_proj.bias is not None and td.out_proj.bias is not None:
            td.out_proj.bias.copy_(module.out_proj.bias)
    return td.train(module.training)
