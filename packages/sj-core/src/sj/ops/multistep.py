"""``sj::multistep_fwd`` / ``sj::multistep_bwd``: the multi-step neuron computation as ``torch.library`` custom ops.

:func:`multistep` validates its inputs, then calls the forward op — through one ``torch.autograd.Function``, whose
backward calls the backward op, when anything requires grad. Both ops dispatch to the backend named in the call
(:mod:`sj.backends.registry`), so every backend gets autograd, ``torch.compile(fullgraph=True)`` support (fake
implementations below) and parameter-gradient reduction without writing any of it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache

import torch

from sj.backends.base import BackwardInputs, shared_constant
from sj.backends.registry import BackendError, get_backend, unsupported_reason
from sj.ops.spec import MultiStepSpec
from sj.surrogate.declarations import surrogates

Tensor = torch.Tensor
_PLAIN = (Tensor, torch.nn.Parameter)  # tensor types taken as they are (no subclass with its own dispatch)


@lru_cache(maxsize=1024)
def _spec(neuron: str, surrogate: str, surrogate_params: tuple[float, ...], soft_reset: bool, detach_reset: bool,
          store_v_seq: bool) -> MultiStepSpec:
    return MultiStepSpec(neuron, surrogate, surrogate_params, soft_reset, detach_reset, store_v_seq)


@lru_cache(maxsize=1024)
def _checked_spec(neuron: str, surrogate: str, surrogate_params: tuple[float, ...], soft_reset: bool,
                  detach_reset: bool, store_v_seq: bool) -> MultiStepSpec:
    """The spec of a :func:`multistep` call, its surrogate parameters checked (an empty tuple: the defaults); memoised
    because a module makes the same call every step (a failed check raises, and is not cached)."""
    sdecl = surrogates.get(surrogate)
    sparams = surrogate_params or sdecl.defaults
    if len(sparams) != len(sdecl.params):
        raise ValueError(f"surrogate {surrogate!r} takes {len(sdecl.params)} parameters {sdecl.params}, "
                         f"got {len(sparams)}")
    return _spec(neuron, surrogate, sparams, bool(soft_reset), bool(detach_reset), bool(store_v_seq))


def _compile_constant(fn):
    """What ``torch.compiler.assume_constant_result`` does (Dynamo calls ``fn`` while tracing and keeps its result as a
    constant), without its import of ``torch._dynamo``, which imports sympy: seconds added to ``import sj``.
    ``tests/core/test_core_compile.py`` checks that the public API still sets this same marker."""
    fn._dynamo_marked_constant = True
    return fn


@lru_cache(maxsize=1024)  # outermost: Dynamo looks through lru_cache and finds the constant marker inside
@_compile_constant
def _needs_x(neuron: str, soft_reset: bool, detach_reset: bool) -> bool:
    """Whether the backward program of a neuron and reset mode reads ``x_seq`` (memoised: a quarter of
    ``spec.program``'s cost). A constant to torch.compile: the program's first lookup reads the derivation cache on
    disk, which Dynamo cannot trace (a model compiled before any eager call failed in ``fullgraph=True``)."""
    from sj.neuron.derived import neuron_program  # lazily: sj.neuron imports sj.ops

    return neuron_program(neuron, soft_reset, detach_reset)["needs_x"]


def _backend(name: str, spec: MultiStepSpec, x: Tensor):
    reason = unsupported_reason(name, spec, x.device, x.dtype)
    if reason is not None:
        raise BackendError(reason)
    return get_backend(name)


# Defined with the low-level Library API: ops from torch.library.custom_op import torch._dynamo (~3 s) on their
# first eager call, which would dominate a neuron's first forward.
_LIB = torch.library.Library("sj", "DEF")
_LIB.define("multistep_fwd(str backend, str neuron, str surrogate, float[] surrogate_params, bool soft_reset, "
            "bool detach_reset, bool store_v_seq, bool save, Tensor x_seq, Tensor[] state_init, Tensor[] params) "
            "-> (Tensor, Tensor[], Tensor, Tensor[])")
_FWD_STORE_V_SEQ, _FWD_X_SEQ = 6, 8  # positions in multistep_fwd's arguments
# multistep_bwd returns the gradients of x_seq, of every initial state, and of the params flagged in
# params_need_grad only (in order, each in its parameter's shape). A None in grad_states_last: that last state got no
# gradient (zero).
_LIB.define("multistep_bwd(str backend, str neuron, str surrogate, float[] surrogate_params, bool soft_reset, "
            "bool detach_reset, bool store_v_seq, Tensor[] saved, Tensor x_seq, Tensor[] state_init, "
            "Tensor[] params, bool[] params_need_grad, Tensor grad_spike, Tensor?[] grad_states_last, "
            "Tensor? grad_v_seq) -> (Tensor, Tensor[], Tensor[])")


def _run_forward(backend: str, neuron: str, surrogate: str, surrogate_params: list[float], soft_reset: bool,
                 detach_reset: bool, store_v_seq: bool, save: bool, x_seq: Tensor, state_init: list[Tensor],
                 params: list[Tensor]) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
    """The backend's forward: ``(spike, states_last, v_seq or None, saved)``."""
    spec = _spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    return _backend(backend, spec, x_seq).forward(spec, x_seq.contiguous(), _contiguous(state_init),
                                                  _contiguous(params), save)


def _contiguous(tensors: list[Tensor | None]) -> list:
    """The backend contract's contiguous tensors (sj.backends.base), for direct calls of the op: ``multistep``'s
    own calls already are (no copy then)."""
    return [t.contiguous() if t is not None else None for t in tensors]


def _fwd_impl(*args) -> tuple[Tensor, list[Tensor], Tensor, list[Tensor]]:
    spike, last, v_seq, saved = _run_forward(*args)
    x_seq = args[_FWD_X_SEQ]
    return spike, last, (v_seq if v_seq is not None else x_seq.new_empty(0)), saved  # the schema's v_seq is a Tensor


@torch.library.register_fake("sj::multistep_fwd")
def _fwd_fake(backend, neuron, surrogate, surrogate_params, soft_reset, detach_reset, store_v_seq, save, x_seq,
              state_init, params):
    shape = x_seq.shape[1:]
    last = [x_seq.new_empty(shape) for _ in state_init]
    v_seq = x_seq.new_empty(x_seq.shape) if store_v_seq else x_seq.new_empty(0)
    saved = [x_seq.new_empty(x_seq.shape) for _ in state_init] if save else []
    return x_seq.new_empty(x_seq.shape), last, v_seq, saved


def _bwd_impl(backend: str, neuron: str, surrogate: str, surrogate_params: list[float], soft_reset: bool,
            detach_reset: bool, store_v_seq: bool, saved: list[Tensor], x_seq: Tensor, state_init: list[Tensor],
            params: list[Tensor], params_need_grad: list[bool], grad_spike: Tensor,
            grad_states_last: list[Tensor | None], grad_v_seq: Tensor | None, *, validated: bool = False
            ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """``validated``: the forward of this very call checked the backend (sj's autograd), so it is not asked again."""
    spec = _spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    inputs = BackwardInputs(_contiguous(saved), x_seq.contiguous(), _contiguous(state_init), _contiguous(params),
                            list(params_need_grad), grad_spike.contiguous(), _contiguous(grad_states_last),
                            grad_v_seq.contiguous() if grad_v_seq is not None else None)
    impl = get_backend(backend) if validated else _backend(backend, spec, saved[0])
    grad_x, grad_init, grad_params = impl.backward(spec, inputs)
    # a backend returns a parameter's gradient per neuron or already reduced to the parameter's shape
    return grad_x, grad_init, [g if g.shape == p.shape else g.sum_to_size(p.shape)
                               for g, p, need in zip(grad_params, params, params_need_grad) if need]


@torch.library.register_fake("sj::multistep_bwd")
def _bwd_fake(backend, neuron, surrogate, surrogate_params, soft_reset, detach_reset, store_v_seq, saved, x_seq,
              state_init, params, params_need_grad, grad_spike, grad_states_last, grad_v_seq):
    h = saved[0]
    shape = h.shape[1:]
    return (h.new_empty(h.shape), [h.new_empty(shape) for _ in state_init],
            [p.new_empty(p.shape) for p, need in zip(params, params_need_grad) if need])


def _plain_eager() -> bool:
    """No torch.compile, FX/JIT tracing, dispatch or function mode (e.g. FakeTensorMode) or profiler is watching."""
    try:
        return (not torch.compiler.is_compiling() and not torch._C._len_torch_dispatch_stack()
                and not torch._C._is_torch_function_mode_enabled() and torch._C._get_tracing_state() is None
                and not torch.autograd.profiler._is_profiler_enabled)
    except AttributeError:  # a torch without one of these checks: assume something is watching
        return False


def _undispatched(x: Tensor) -> bool:
    """Whether a call may run an op's implementation without the dispatcher (a cost per call): only
    plain eager calls on real, unwrapped tensors; everything that must see the op itself gets it."""
    return (type(x) is Tensor and not x.is_meta and _plain_eager()
            and not torch._C._functorch.is_functorch_wrapped_tensor(x))


def _dispatched_forward(*args) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
    spike, last, v_seq, saved = torch.ops.sj.multistep_fwd(*args)
    return spike, last, (v_seq if args[_FWD_STORE_V_SEQ] else None), saved


def _forward_op(direct: bool):
    """The forward with the arguments of ``sj::multistep_fwd``, returning ``v_seq`` ``None`` unless stored: through
    the op, or straight to the backend when ``direct`` (:func:`_undispatched` said so for ``x_seq``)."""
    return _run_forward if direct else _dispatched_forward


def _backward_op(*args):
    """``sj::multistep_bwd`` (same arguments), through the dispatcher unless :func:`_undispatched` allows otherwise.
    Called only by the autograd entries, whose forward validated the backend: the direct call skips that check."""
    if _undispatched(args[12]):
        return _bwd_impl(*args, validated=True)
    return torch.ops.sj.multistep_bwd(*args)


def _save_context(ctx, config: tuple, needs_x: bool, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor],
                  saved: list[Tensor]) -> None:
    """What the backward op needs, kept on an autograd context (shared by both autograd entries below)."""
    ctx.config, ctx.n_states, ctx.n_saved = tuple(config), len(state_init), len(saved)
    # Unused outputs (often v_seq and the last states) must not get [T, *S] zero gradients filled in.
    ctx.set_materialize_grads(False)
    ctx.params_need_grad = [p.requires_grad for p in params]
    # x_seq shapes the gradients through the saved H, but only programs that read it keep it (memory): a second
    # derivative towards it cannot be guarded then (_guarded_gradients warns)
    ctx.x_unsaved_requires_grad = x_seq.requires_grad and not needs_x
    ctx.save_for_backward(*saved, x_seq if needs_x else None, *state_init, *params)


class _NotDifferentiableAgain(torch.autograd.Function):
    """Passes its first ``n`` tensors (gradients computed outside autograd) through; differentiating them towards any
    of the tensors after them (what they depend on) raises instead of leaving those terms out."""

    @staticmethod
    def forward(ctx, n: int, *tensors: Tensor) -> tuple[Tensor, ...]:
        return tensors[:n]

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(
            "sj multistep: a spiking neuron's backward is not differentiable, so a second derivative through it "
            "(a gradient taken with create_graph=True, differentiated again) is not available: its terms would be "
            "missing. Use first-order gradients, or detach what flows into the neuron in the second pass")


def _gradients(ctx, grad_spike: Tensor | None, grad_v_seq: Tensor | None, grad_states_last: Sequence[Tensor | None]
               ) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
    """Gradients of ``x_seq``, the initial states and the params (in their shapes) through the backward op. Under
    ``create_graph=True`` they go through :func:`_guarded_gradients` (backends compute outside autograd)."""
    if torch.is_grad_enabled():  # create_graph=True; the usual backward runs with grad mode off
        return _guarded_gradients(ctx, grad_spike, grad_v_seq, grad_states_last)
    tensors = ctx.saved_tensors
    n_saved, n_states = ctx.n_saved, ctx.n_states
    saved = list(tensors[:n_saved])
    x_seq = tensors[n_saved]
    state_init = list(tensors[n_saved + 1:n_saved + 1 + n_states])
    params = list(tensors[n_saved + 1 + n_states:])
    h = saved[0]
    if grad_spike is None:
        grad_spike = torch.zeros_like(h)
    grad_states = [g.contiguous() if g is not None else None for g in grad_states_last]
    if grad_v_seq is not None and grad_v_seq.numel() == 0:
        grad_v_seq = None
    grad_x, grad_init, grad_params = _backward_op(
        *ctx.config, saved, x_seq if x_seq is not None else h.new_empty(0), state_init, params,
        ctx.params_need_grad, grad_spike.contiguous(), grad_states,
        grad_v_seq.contiguous() if grad_v_seq is not None else None)
    wanted = iter(grad_params)  # the op returns the requested parameter gradients only, in the parameters' shapes
    return grad_x, list(grad_init), [next(wanted) if need else None for need in ctx.params_need_grad]


def _guarded_gradients(ctx, grad_spike: Tensor | None, grad_v_seq: Tensor | None,
                       grad_states_last: Sequence[Tensor | None]) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
    """:func:`_gradients` computed without recording a graph; where they depend on anything that requires grad, they
    come out of :class:`_NotDifferentiableAgain`, since a second derivative would otherwise leave the neuron's terms
    out without a word. An ``x_seq`` the backward does not keep cannot be linked to that node: a warning says so
    instead."""
    with torch.no_grad():
        grad_x, grad_init, grad_params = _gradients(ctx, grad_spike, grad_v_seq, grad_states_last)
    if ctx.x_unsaved_requires_grad:
        warnings.warn("sj multistep: gradients taken with create_graph=True through a spiking neuron have no second "
                      "derivative towards its input x_seq (the neuron's backward is not differentiable); a second "
                      "differentiation towards x_seq or anything before it would miss the neuron's terms",
                      RuntimeWarning, stacklevel=3)
    depends_on = [t for t in (grad_spike, grad_v_seq, *grad_states_last, *ctx.saved_tensors)
                  if t is not None and t.requires_grad]
    if not depends_on:
        return grad_x, grad_init, grad_params
    flat = [grad_x, *grad_init, *grad_params]
    present = [i for i, g in enumerate(flat) if g is not None]
    for i, g in zip(present, _NotDifferentiableAgain.apply(len(present), *[flat[i] for i in present], *depends_on)):
        flat[i] = g
    n_init = len(grad_init)
    return flat[0], flat[1:1 + n_init], flat[1 + n_init:]


class _MultiStepFunction(torch.autograd.Function):
    """The autograd entry :func:`multistep` uses: forward calls ``sj::multistep_fwd``, backward ``sj::multistep_bwd``.

    A ``torch.autograd.Function`` rather than the op's ``register_autograd`` entry: that wrapper flattens and checks
    every argument on each call, which cost more than the fused kernels themselves at small sizes
    (``benchmarks/bench_cpu_kernels.py`` measures the per-call cost). Dynamo traces this Function
    (``torch.compile(fullgraph=True)`` works through it).
    ``needs_x``: whether the backward program reads ``x_seq``; ``direct``: whether the forward may skip the
    dispatcher (:func:`_undispatched`; backward decides again when it runs). Inputs after ``x_seq``: the
    ``n_states`` initial states, then the params. Outputs: spikes, ``v_seq`` (``None`` unless stored), the last
    states.
    """

    @staticmethod
    def forward(ctx, config: tuple, needs_x: bool, direct: bool, n_states: int, x_seq: Tensor, *tensors: Tensor):
        state_init, params = list(tensors[:n_states]), list(tensors[n_states:])
        spike, last, v_seq, saved = _forward_op(direct)(*config, True, x_seq, state_init, params)
        _save_context(ctx, config, needs_x, x_seq, state_init, params, saved)
        return spike, v_seq, *last

    @staticmethod
    def backward(ctx, grad_spike: Tensor | None, grad_v_seq: Tensor | None, *grad_states_last: Tensor | None):
        grad_x, grad_init, grad_params = _gradients(ctx, grad_spike, grad_v_seq, grad_states_last)
        return None, None, None, None, grad_x, *grad_init, *grad_params


def _op_setup_context(ctx, inputs, output) -> None:
    """The op's own autograd (for code calling ``torch.ops.sj.multistep_fwd`` directly)."""
    *config, _save, x_seq, state_init, params = inputs
    needs_x = _needs_x(config[1], config[4], config[5])
    _save_context(ctx, config, needs_x, x_seq, list(state_init), list(params), list(output[3]))


def _op_backward(ctx, grad_spike, grad_states_last, grad_v_seq, _grad_saved):
    grad_x, grad_init, grad_params = _gradients(ctx, grad_spike, grad_v_seq, grad_states_last)
    return (None,) * 8 + (grad_x, grad_init, grad_params)


_LIB.impl("multistep_fwd", _fwd_impl, "CompositeExplicitAutograd")
_LIB.impl("multistep_bwd", _bwd_impl, "CompositeExplicitAutograd")
torch.library.register_autograd("sj::multistep_fwd", _op_backward, setup_context=_op_setup_context)


def multistep(neuron: str, x_seq: Tensor, state_init: Sequence[Tensor], params: Sequence[Tensor | float], *,
              surrogate: str, surrogate_params: Sequence[float] = (), soft_reset: bool = False,
              detach_reset: bool = False, store_v_seq: bool = False, backend: str = "torch"
              ) -> tuple[Tensor, list[Tensor], Tensor | None]:
    """Run a declared neuron over a whole sequence: the multi-step op.

    Args:
        neuron: registered declaration name (e.g. ``"lif"``).
        x_seq: ``[T, *S]`` input, floating point, ``T >= 1``.
        state_init: one tensor per state (``v`` first, then the declaration's aux states), each broadcastable to ``S``.
        params: one value per parameter in ``declaration.param_names`` order (``v_threshold``, ``v_reset``, own
            params); numbers or tensors broadcastable to ``S``. Tensors that require grad receive gradients.
        surrogate: surrogate declaration name (e.g. ``"ATan"``); ``surrogate_params`` its parameter values
            (empty: the declaration's defaults).
        soft_reset / detach_reset / store_v_seq: see :class:`~sj.ops.spec.MultiStepSpec`.
        backend: registered backend name (``sj backends`` lists them).

    Returns:
        ``(spike_seq [T, *S], states_last [[*S], ...], v_seq [T, *S] or None)``.
    """
    spec = _checked_spec(neuron, surrogate, tuple(map(float, surrogate_params)), soft_reset, detach_reset,
                         store_v_seq)
    direct = _undispatched(x_seq)
    # Shared constants only for direct calls: one made under a mode or a tracer would leak out of it. (The op
    # implementation checks the backend.)
    states, tensors = _prepare(spec, x_seq, state_init, params, shared=direct)
    config = (backend, spec.neuron, spec.surrogate, list(spec.surrogate_params), spec.soft_reset, spec.detach_reset,
              spec.store_v_seq)
    x_seq = x_seq.contiguous()
    if torch.is_grad_enabled() and (x_seq.requires_grad or any(t.requires_grad for t in (*states, *tensors))):
        needs_x = _needs_x(spec.neuron, spec.soft_reset, spec.detach_reset)
        spike, v_seq, *last = _MultiStepFunction.apply(config, needs_x, direct, len(states), x_seq, *states, *tensors)
    else:  # nothing to differentiate: the op alone, nothing saved
        spike, last, v_seq, _ = _forward_op(direct)(*config, False, x_seq, states, tensors)
    return spike, list(last), v_seq


def _prepare(spec: MultiStepSpec, x_seq: Tensor, state_init, params, shared: bool
             ) -> tuple[list[Tensor], list[Tensor]]:
    """Validate shapes, dtypes and devices; broadcast states to ``S`` and params to ``()`` or ``S`` (number params
    become shared constants when ``shared``, else new tensors)."""
    decl = spec.decl
    if not isinstance(x_seq, Tensor):
        raise TypeError(f"x_seq must be a torch.Tensor, got {type(x_seq).__name__}")
    if not x_seq.dtype.is_floating_point:
        raise TypeError(f"x_seq must be floating point, got {x_seq.dtype}")
    if x_seq.dim() < 1 or x_seq.shape[0] == 0:
        raise ValueError(f"x_seq must have shape [T, *S] with T >= 1, got {tuple(x_seq.shape)}")
    shape = x_seq.shape[1:]
    if len(state_init) != len(decl.state_names):
        raise ValueError(f"neuron {decl.name!r} has states {decl.state_names}, got {len(state_init)} initial values")
    if len(params) != len(decl.param_names):
        raise ValueError(f"neuron {decl.name!r} has params {decl.param_names}, got {len(params)} values")
    dtype, device = x_seq.dtype, x_seq.device
    states = []
    for name, s in zip(decl.state_names, state_init):
        if type(s) is Tensor and s.dtype == dtype and s.device == device and s.shape == shape:  # the usual case
            states.append(s.contiguous())
            continue
        s = torch.as_tensor(s, dtype=dtype, device=device) if not isinstance(s, Tensor) else s
        _check_tensor(f"initial state {name!r}", s, x_seq, shape)
        states.append(s.expand(shape).contiguous() if s.shape != shape else s.contiguous())
    tensors = []
    for name, p in zip(decl.param_names, params):
        # a module's buffers and parameters
        if type(p) in _PLAIN and p.dim() == 0 and p.dtype == dtype and p.device == device:
            tensors.append(p)
            continue
        if not isinstance(p, Tensor):
            value = _finite_param(name, float(p))
            tensors.append(shared_constant(value, dtype, device) if shared
                           else torch.tensor(value, dtype=dtype, device=device))
            continue
        _check_tensor(f"parameter {name!r}", p, x_seq, shape)
        if p.dim() > 0 and p.shape != shape:
            p = p.expand(shape)
        tensors.append(p.contiguous())
    return states, tensors


def _finite_param(name: str, value: float) -> float:
    if not math.isfinite(value) and name != "v_threshold":  # an infinite threshold is a valid "never fire"
        raise ValueError(f"parameter {name!r} must be finite, got {value}")
    return value


def _check_tensor(what: str, t: Tensor, x_seq: Tensor, shape: torch.Size) -> None:
    if t.device != x_seq.device:
        raise ValueError(f"{what} is on {t.device} but x_seq is on {x_seq.device}")
    if t.dtype != x_seq.dtype:
        raise TypeError(f"{what} has dtype {t.dtype} but x_seq has {x_seq.dtype}")
    # Checked by hand: torch.broadcast_shapes imports sympy (~0.5 s) on first use.
    if t.dim() > len(shape) or any(a not in (1, b) for a, b in zip(reversed(t.shape), reversed(shape))):
        raise ValueError(f"{what} of shape {tuple(t.shape)} does not broadcast to the neuron shape {tuple(shape)}")
