"""Graph rewrites of the converter over :mod:`torch.fx`: tracing, the support check, Conv-BN fusion, one module per
ReLU call, and moving max pooling in front of the ReLU it follows."""

from __future__ import annotations

import copy
import operator
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import fx, nn

from sj.ann2snn.modules import TimeContext, TimeFold, TimeUnfold
from sj.base import MemoryModule, StepModule
from sj.functional.fuse import fuse_conv_bn
from sj.layer.stateless import SeqFoldMixin, VotingLayer

_CONV_BN = {nn.Conv1d: nn.BatchNorm1d, nn.Conv2d: nn.BatchNorm2d, nn.Conv3d: nn.BatchNorm3d}
_MAXPOOL_MODULES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
                    nn.AdaptiveMaxPool3d)
_MAXPOOL_FUNCTIONS = {F.max_pool1d, F.max_pool2d, F.max_pool3d, F.adaptive_max_pool1d, F.adaptive_max_pool2d,
                      F.adaptive_max_pool3d, torch.max_pool1d, torch.max_pool2d, torch.max_pool3d}

# Modules that are linear or piecewise linear and positively homogeneous per sample (in eval mode), so that they act
# on firing rates as on activations. sj.layer's step-mode wrappers are subclasses of these (in step mode 's').
SUPPORTED_MODULES: tuple[type[nn.Module], ...] = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d, *_MAXPOOL_MODULES, nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout,
    nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ReLU, VotingLayer,
)
RELU_FUNCTIONS = {F.relu, torch.relu, torch.relu_, F.relu_}
RELU_METHODS = {"relu", "relu_"}
SUPPORTED_FUNCTIONS = {
    *RELU_FUNCTIONS, *_MAXPOOL_FUNCTIONS, torch.flatten, torch.cat, torch.concat, torch.add, operator.add,
    operator.iadd, torch.sub, operator.sub, operator.neg, torch.reshape, torch.squeeze, torch.unsqueeze,
    torch.mean, torch.sum, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d,
    F.adaptive_avg_pool3d, torch.avg_pool1d, F.dropout, F.linear, F.conv1d, F.conv2d, F.conv3d, operator.getitem,
    getattr, F.pad,
}
SCALING_FUNCTIONS = {operator.mul, operator.truediv, torch.mul, torch.div, operator.imul, operator.itruediv}
SUPPORTED_METHODS = {*RELU_METHODS, "view", "reshape", "flatten", "size", "add", "add_", "sub", "mean", "sum",
                     "squeeze", "unsqueeze", "contiguous", "dim", "unflatten", "__getitem__"}


class UnsupportedOperationError(TypeError):
    """The ANN contains operations the rate-coded conversion cannot represent (listed in the message)."""


class _Tracer(fx.Tracer):
    """Keeps every supported module (sj.layer wrappers included) as one leaf node."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, SUPPORTED_MODULES) or isinstance(m, MemoryModule) or super().is_leaf_module(
            m, module_qualified_name)


def trace(model: nn.Module) -> fx.GraphModule:
    """Symbolically trace ``model`` (sj.layer wrappers stay leaves); a trace failure is re-raised naming the model."""
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # fx raises many types; re-raise with a hint, keeping the cause
        raise UnsupportedOperationError(f"ann2snn: torch.fx could not trace {type(model).__name__} ({exc}); the "
                                        "ANN's forward must be traceable (no data-dependent control flow)") from exc
    return fx.GraphModule(model, graph, type(model).__name__)


def _describe(node: fx.Node, gm: fx.GraphModule) -> str:
    if node.op == "call_module":
        return f"module {node.target!r} ({type(gm.get_submodule(node.target)).__name__})"
    if node.op == "call_function":
        return f"function {getattr(node.target, '__name__', node.target)} (node {node.name!r})"
    return f"method .{node.target}() (node {node.name!r})"


def _unsupported_reason(node: fx.Node, gm: fx.GraphModule) -> str | None:
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        if isinstance(m, StepModule) and m.step_mode != "s":
            return f"{_describe(node, gm)} has step_mode={m.step_mode!r}; convert the ANN in step mode 's'"
        if not isinstance(m, SUPPORTED_MODULES) or isinstance(m, MemoryModule):
            return _describe(node, gm)
        if isinstance(m, _MAXPOOL_MODULES) and getattr(m, "return_indices", False):
            return f"{_describe(node, gm)} with return_indices=True"
    elif node.op == "call_function":
        if node.target in SCALING_FUNCTIONS:  # scaling by a constant is linear; a product of two signals is not
            tensors = [a for a in node.args if isinstance(a, fx.Node) and _is_tensor_node(a)]
            if len(tensors) > 1:
                return f"{_describe(node, gm)} of two activations (not linear)"
        elif node.target not in SUPPORTED_FUNCTIONS:
            return _describe(node, gm)
    elif node.op == "call_method":
        if node.target in ("mul", "div", "mul_", "div_"):
            tensors = [a for a in node.args if isinstance(a, fx.Node) and _is_tensor_node(a)]
            if len(tensors) > 1:
                return f"{_describe(node, gm)} of two activations (not linear)"
        elif node.target not in SUPPORTED_METHODS:
            return _describe(node, gm)
    return None


def _is_tensor_node(node: fx.Node) -> bool:
    """Best effort: shapes and sizes (``x.size(0)``, ``getattr(x, 'shape')``) are not activations."""
    if node.op == "call_method" and node.target in ("size", "dim"):
        return False
    if node.op == "call_function" and node.target is getattr:
        return False
    if node.op == "call_function" and node.target is operator.getitem:
        return all(_is_tensor_node(a) for a in node.args[:1] if isinstance(a, fx.Node))
    return True


def check_supported(gm: fx.GraphModule) -> None:
    """Raise :class:`UnsupportedOperationError` listing every operation of ``gm`` the conversion cannot handle."""
    bad = [r for n in gm.graph.nodes if (r := _unsupported_reason(n, gm)) is not None]
    if bad:
        raise UnsupportedOperationError("ann2snn cannot convert: " + "; ".join(dict.fromkeys(bad)) +
                                        ". Supported: conv/linear/batch-norm, ReLU, average/max pooling, flatten/view,"
                                        " addition, concatenation, scaling by constants, dropout (identity in eval)")


def replace_submodule(gm: fx.GraphModule, target: str, module: nn.Module) -> None:
    """Put ``module`` at the dotted path ``target`` of ``gm``."""
    parent, _, name = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, name, module)


def _module_uses(gm: fx.GraphModule) -> dict[str, int]:
    uses: dict[str, int] = {}
    for n in gm.graph.nodes:
        if n.op == "call_module":
            uses[n.target] = uses.get(n.target, 0) + 1
    return uses


def fuse_conv_bn_graph(gm: fx.GraphModule) -> fx.GraphModule:
    """Fold every BatchNorm whose only input is a convolution used nowhere else into that convolution (eval-mode
    statistics; :func:`sj.functional.fuse_conv_bn`). ``gm`` is modified in place and returned."""
    uses = _module_uses(gm)
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(node.args[0] if node.args else None, fx.Node):
            continue
        conv_node = node.args[0]
        if conv_node.op != "call_module" or len(conv_node.users) != 1 or uses[conv_node.target] != 1 \
                or uses[node.target] != 1:
            continue
        conv, bn = gm.get_submodule(conv_node.target), gm.get_submodule(node.target)
        if not any(isinstance(conv, c) and isinstance(bn, b) for c, b in _CONV_BN.items()):
            continue
        replace_submodule(gm, conv_node.target, fuse_conv_bn(conv, bn))
        node.replace_all_uses_with(conv_node)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def is_relu(node: fx.Node, gm: fx.GraphModule) -> bool:
    """Whether the traced ``node`` applies a ReLU (module, function or tensor method)."""
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), nn.ReLU)
    if node.op == "call_function":
        return node.target in RELU_FUNCTIONS
    return node.op == "call_method" and node.target in RELU_METHODS


def give_each_relu_a_module(gm: fx.GraphModule, prefix: str = "ann2snn_relu") -> list[str]:
    """Replace every ReLU call (module, function or method; a module called twice counts twice) by a call of its own
    fresh ``nn.ReLU`` submodule ``{prefix}{i}``; return the new targets in graph order."""
    targets = []
    for node in list(gm.graph.nodes):
        if not is_relu(node, gm):
            continue
        target = f"{prefix}{len(targets)}"
        gm.add_submodule(target, nn.ReLU())
        with gm.graph.inserting_after(node):
            new = gm.graph.call_module(target, (node.args[0],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
        targets.append(target)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return targets


def _is_maxpool(node: fx.Node, gm: fx.GraphModule) -> bool:
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), _MAXPOOL_MODULES)
    return node.op == "call_function" and node.target in _MAXPOOL_FUNCTIONS and not node.kwargs.get("return_indices")


def move_max_pool_before_relu(gm: fx.GraphModule, relu_targets: Iterable[str]) -> int:
    """Rewrite ``maxpool(relu(x))`` as ``relu(maxpool(x))`` where the ReLU feeds only the pooling (exact: max and a
    monotone ReLU commute), so the pooling sees analog values instead of spikes. Returns how many were moved."""
    relus = set(relu_targets)
    moved = 0
    for pool in list(gm.graph.nodes):
        if not _is_maxpool(pool, gm) or not isinstance(pool.args[0], fx.Node):
            continue
        relu = pool.args[0]
        if relu.op != "call_module" or relu.target not in relus or len(relu.users) != 1:
            continue
        pool.args = (relu.args[0], *pool.args[1:])
        with gm.graph.inserting_after(pool):
            new = gm.graph.call_module(relu.target, (pool,))
        pool.replace_all_uses_with(new, delete_user_cb=lambda user, keep=new: user is not keep)
        gm.graph.erase_node(relu)
        moved += 1
    gm.graph.lint()
    gm.recompile()
    return moved


def unwrap_step_layers(gm: fx.GraphModule) -> int:
    """Turn every stateless sj.layer module of ``gm`` (step mode ``'s'``) into the torch module it wraps (in place, same
    parameters), so that ``sj.functional.set_step_mode`` on the converted network leaves it alone: it works on the
    time-folded batch in either mode. Returns how many were unwrapped."""
    count = 0
    for m in gm.modules():
        if isinstance(m, SeqFoldMixin):
            m.__class__ = next(c for c in type(m).__mro__ if issubclass(c, nn.Module) and not issubclass(
                c, SeqFoldMixin))
            count += 1
    return count


def fuse_conv_bn_model(model: nn.Module) -> fx.GraphModule:
    """A traced copy of ``model`` (eval mode) with every Conv-BN pair folded (:func:`fuse_conv_bn_graph`); in eval
    mode it computes what ``model`` computes. ``model`` is not modified."""
    return fuse_conv_bn_graph(trace(copy.deepcopy(model).eval()))


def add_time_folding(fx_model: fx.GraphModule, time: TimeContext) -> None:
    """Insert :class:`~sj.ann2snn.modules.TimeFold` after every input (``time_fold`` after the first, which must be
    a sequence; ``time_fold_static`` after the others, which may also be static tensors) and
    :class:`~sj.ann2snn.modules.TimeUnfold` (``time_unfold``) before every output of ``fx_model``: in step mode
    ``'m'`` the graph then takes and returns ``[T, N, *]`` and runs on ``[T·N, *]`` in between."""
    graph = fx_model.graph
    inputs = [node for node in graph.nodes if node.op == "placeholder"]
    fx_model.add_submodule("time_fold", TimeFold(time))
    if len(inputs) > 1:
        fx_model.add_submodule("time_fold_static", TimeFold(time, leading=False))
    fx_model.add_submodule("time_unfold", TimeUnfold(time))
    for node in list(graph.nodes):
        if node.op == "placeholder":
            with graph.inserting_after(node):
                folded = graph.call_module("time_fold" if node is inputs[0] else "time_fold_static", (node,))
            node.replace_all_uses_with(folded, delete_user_cb=lambda user, keep=folded: user is not keep)
        elif node.op == "output":
            with graph.inserting_before(node):
                node.args = fx.node.map_arg(node.args, lambda n: graph.call_module("time_unfold", (n,)))
    graph.lint()
