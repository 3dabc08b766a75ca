"""How the counters see sj's spiking neurons: as the declared equations, evaluated naively.

An sj neuron's multi-step computation is one ``torch.library`` op, ``sj.multistep_fwd``, whatever its backend (torch,
cpu, triton, cupy): the operators a backend runs inside it are not visible, and are backend-specific anyway. The
counters therefore count a neuron call from its declaration (:mod:`sj.neuron.declaration`): the operations a direct
evaluation of the equations performs at every step,

    pre updates → charge H → fire: Z = H − V_th, S = Θ(Z) → post updates → reset
    (hard: H·(1 − S) + V_reset·S; soft: H − V_th·S),

each written operation counted once (``v + (x - (v - v_reset)) / tau``: two subtractions, one addition, one division),
with no algebraic simplification. An operation whose operands involve the input, the states, ``h`` or ``s`` runs for
every neuron at every step; one on parameters only (``sigmoid(w)`` of a PLIF neuron) runs once per step per
parameter element. This is what SpikingJelly's counters report for its Python neurons (which evaluate the same
expressions operator by operator), and it is the same in both step modes and on every backend: a single-step call is
counted as the op with ``T = 1``.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import nn

import sj.ops.multistep  # noqa: F401  (registers sj.multistep_fwd)
from sj.neuron import declaration
from sj.neuron.node import BaseNode

NEURON_OP = torch.ops.sj.multistep_fwd.default
NEURON_EVENTS = (NEURON_OP, torch.ops.sj.multistep_fwd)  # dispatch level, function level

# argument positions in sj::multistep_fwd
_NEURON, _SOFT_RESET, _STORE_V_SEQ, _X_SEQ, _STATE_INIT, _PARAMS = 1, 4, 6, 8, 9, 10

_STAGE_FIRE = ("h - v_threshold",)  # then Θ: one comparison
_RESET = {False: "h * (1 - s) + v_reset * s", True: "h - v_threshold * s"}
_BINOPS = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.Div: "mul", ast.Pow: "pow", ast.Mod: "mul",
           ast.FloorDiv: "mul"}
_SELECT_FUNCTIONS = {"Max", "Min", "Piecewise"}


@dataclass(frozen=True)
class Operation:
    """One operation of a neuron step: its ``stage`` (pre, charge, fire, post, reset), ``kind`` (add — additions
    and subtractions —, mul — multiplications and divisions —, neg, cmp, sigmoid, pow, select, nonlinear) and, for an
    operation on parameters only, their names (``None``: it runs for every neuron)."""

    stage: str
    kind: str
    params: frozenset[str] | None


def is_declared_neuron(module: nn.Module) -> bool:
    """Whether ``module`` is an sj neuron built on a declaration (counted as neuron events)."""
    return isinstance(module, BaseNode)


def is_neuron_event(func: Any) -> bool:
    """Whether an intercepted operator or function is sj's multi-step neuron op."""
    return any(func is e for e in NEURON_EVENTS)


def _operations(stage: str, expr: str, elementwise: frozenset[str], params: frozenset[str]) -> list[Operation]:
    found: list[Operation] = []

    def emit(kind: str, names: set[str], times: int = 1) -> None:
        if names & elementwise:
            found.extend([Operation(stage, kind, None)] * times)
        elif names & params:
            found.extend([Operation(stage, kind, frozenset(names & params))] * times)
        # an operation on constants only is folded before it runs: nothing

    def visit(node: ast.AST) -> set[str]:
        if isinstance(node, ast.Name):
            return {node.id}
        if isinstance(node, ast.BinOp):
            names = visit(node.left) | visit(node.right)
            emit(_BINOPS.get(type(node.op), "nonlinear"), names)
            return names
        if isinstance(node, ast.UnaryOp):
            names = visit(node.operand)
            if isinstance(node.op, ast.USub):
                emit("neg", names)
            return names
        if isinstance(node, ast.Call):
            names = set().union(*(visit(a) for a in node.args)) if node.args else set()
            fname = node.func.id if isinstance(node.func, ast.Name) else ""
            if fname in _SELECT_FUNCTIONS:
                emit("select", names, max(len(node.args) - 1, 1))
            else:
                emit("sigmoid" if fname == "sigmoid" else "nonlinear", names)
            return names
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            parts = [node.left, *node.comparators] if isinstance(node, ast.Compare) else node.values
            names = set().union(*(visit(p) for p in parts))
            emit("cmp", names, len(parts) - 1)
            return names
        if isinstance(node, ast.Tuple):
            return set().union(*(visit(e) for e in node.elts)) if node.elts else set()
        return set()  # constants

    visit(ast.parse(expr, mode="eval").body)
    return found


@lru_cache(maxsize=256)
def _profile(neuron: str, content_hash: str, soft_reset: bool) -> tuple[Operation, ...]:
    decl = declaration.get(neuron)
    elementwise = frozenset({"x", "v", "h", "s", "z", *decl.aux_states})
    params = frozenset(decl.param_names)
    ops: list[Operation] = []
    for _, expr in decl.pre:
        ops += _operations("pre", expr, elementwise, params)
    ops += _operations("charge", decl.charge, elementwise, params)
    ops += [*_operations("fire", _STAGE_FIRE[0], elementwise, params), Operation("fire", "cmp", None)]
    for _, expr in decl.post:
        ops += _operations("post", expr, elementwise, params)
    ops += _operations("reset", _RESET[soft_reset], elementwise, params)
    return tuple(ops)


def step_profile(neuron: str, soft_reset: bool) -> tuple[Operation, ...]:
    """The operations of one step of declared neuron ``neuron`` (see the module docstring)."""
    decl = declaration.get(neuron)
    return _profile(neuron, decl.content_hash, bool(soft_reset))


def operation_counts(args: tuple, *, stages: tuple[str, ...] | None = None, elementwise_only: bool = False
                     ) -> Counter[str]:
    """``{kind: count}`` of one ``sj.multistep_fwd`` call with arguments ``args``, over all steps and neurons
    (optionally only the operations of some ``stages``, or only those that run for every neuron)."""
    steps, per_step, _ = call_shapes(args)
    decl = declaration.get(args[_NEURON])
    param_numel = {name: int(p.numel()) if isinstance(p, torch.Tensor) else 1
                   for name, p in zip(decl.param_names, args[_PARAMS])}
    counts: Counter[str] = Counter()
    for op in step_profile(args[_NEURON], args[_SOFT_RESET]):
        if stages is not None and op.stage not in stages:
            continue
        if op.params is None:
            counts[op.kind] += steps * per_step
        elif not elementwise_only:
            counts[op.kind] += steps * max(param_numel[n] for n in op.params)
    return counts


def call_shapes(args: tuple) -> tuple[int, int, list[torch.Tensor]]:
    """``(T, neurons per step, initial states)`` of an ``sj.multistep_fwd`` call."""
    x_seq = args[_X_SEQ]
    steps = int(x_seq.shape[0])
    return steps, x_seq.numel() // steps if steps else 0, list(args[_STATE_INIT])


def call_tensors(args: tuple, out: tuple) -> dict[str, list[torch.Tensor]]:
    """The tensors an ``sj.multistep_fwd`` call reads and writes: ``x_seq``, ``states_in``, ``params``, ``spike``,
    ``states_out`` and ``v_seq`` (empty unless stored)."""
    spike, last, v_seq = out[0], list(out[1]), out[2]
    return {"x_seq": [args[_X_SEQ]], "states_in": list(args[_STATE_INIT]),
            "params": [p for p in args[_PARAMS] if isinstance(p, torch.Tensor)], "spike": [spike],
            "states_out": last, "v_seq": [v_seq] if args[_STORE_V_SEQ] and v_seq.numel() else []}


def single_step_event(module: nn.Module, args: tuple, output: Any) -> tuple[Any, tuple, dict, tuple] | None:
    """The ``(op, args, kwargs, out)`` event of a single-step call of an sj neuron that just returned (``None`` for
    anything else): the multi-step op with ``T = 1`` on the same input, states and parameters."""
    if not (is_declared_neuron(module) and module.step_mode == "s" and isinstance(output, torch.Tensor)
            and args and isinstance(args[0], torch.Tensor)):
        return None
    x = args[0]
    spec = module.spec()
    states = [getattr(module, n) for n in module.decl.state_names]  # after the step: same shapes and dtypes
    if not all(isinstance(s, torch.Tensor) for s in states):
        return None
    op_args = (module.backend, spec.neuron, spec.surrogate, list(spec.surrogate_params), spec.soft_reset,
               spec.detach_reset, spec.store_v_seq, False, x.unsqueeze(0), states, module._params(x))
    v_seq = module.v.unsqueeze(0) if spec.store_v_seq else x.new_empty(0)
    return NEURON_OP, op_args, {}, (output.unsqueeze(0), states, v_seq, [])


def state_tensors(module: nn.Module) -> list[torch.Tensor]:
    """The state tensors of an sj neuron (``v`` and the declaration's aux states; not ``v_seq``), or of any other
    stateful module its tensor memories."""
    if is_declared_neuron(module):
        values = [getattr(module, n) for n in module.decl.state_names]
    else:
        values = list(module.memories()) if hasattr(module, "memories") else []
    return [v for v in values if isinstance(v, torch.Tensor)]
