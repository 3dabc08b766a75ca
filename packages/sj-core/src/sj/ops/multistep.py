"""``sj::multistep_fwd`` / ``sj::multistep_bwd``: the multi-step neuron computation as ``torch.library`` custom ops.

:func:`multistep` validates its inputs, then calls the forward op — through one ``torch.autograd.Function``, whose
backward calls the backward op, when anything requires grad. Both ops dispatch to the backend named in the call
(:mod:`sj.backends.registry`), so every backend gets autograd, ``torch.compile(fullgraph=True)`` support (fake
implementations below) and parameter-gradient reduction without writing any of it.

The ops check what any other caller gives them the same way (:mod:`sj.ops.checks`) before a backend runs, so no
backend's kernel sees a buffer too small, of another dtype or on another device (nor an empty sequence: the ops
compute ``T = 0`` themselves); :func:`multistep`'s own calls skip that second check.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import lru_cache

import torch

from sj.backends.base import BackwardInputs
from sj.backends.registry import AUTO, BackendError, get_backend, resolve, unsupported_reason
from sj.ops.checks import backward_inputs, prepare
from sj.ops.spec import MultiStepSpec
from sj.surrogate.declarations import surrogates

Tensor = torch.Tensor


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
    if name == AUTO:  # the default's choice was vetted when it was made (registry.default_choice)
        return get_backend(resolve(name, spec, x.device, x.dtype))
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
_FWD_STORE_V_SEQ = 6  # position in multistep_fwd's arguments
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
    """The backend's forward: ``(spike, states_last, v_seq or None, saved)``, for arguments :func:`multistep` has
    already validated (:func:`sj.ops.checks.prepare`)."""
    spec = _spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    return _backend(backend, spec, x_seq).forward(spec, x_seq, state_init, params, save)


def _fwd_impl(backend: str, neuron: str, surrogate: str, surrogate_params: list[float], soft_reset: bool,
              detach_reset: bool, store_v_seq: bool, save: bool, x_seq: Tensor, state_init: list[Tensor],
              params: list[Tensor]) -> tuple[Tensor, list[Tensor], Tensor, list[Tensor]]:
    """``sj::multistep_fwd``: any caller's arguments, checked as :func:`multistep` checks them before the backend
    runs. ``T = 0`` is allowed (the states pass through) and computed here: no backend sees an empty sequence."""
    spec = _checked_spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    state_init, params = prepare(spec, x_seq, state_init, params, shared=False, min_steps=0)
    b = _backend(backend, spec, x_seq)
    if x_seq.shape[0] == 0:
        empty = lambda: x_seq.new_empty(x_seq.shape)  # noqa: E731
        spike, last = empty(), [s.clone() for s in state_init]
        v_seq, saved = (empty() if store_v_seq else None), ([empty() for _ in state_init] if save else [])
    else:
        spike, last, v_seq, saved = b.forward(spec, x_seq.contiguous(), state_init, params, save)
    return spike, last, (v_seq if v_seq is not None else x_seq.new_empty(0)), saved  # the schema's v_seq is a Tensor


@torch.library.register_fake("sj::multistep_fwd")
def _fwd_fake(backend, neuron, surrogate, surrogate_params, soft_reset, detach_reset, store_v_seq, save, x_seq,
              state_init, params):
    spec = _checked_spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    prepare(spec, x_seq, state_init, params, shared=False, min_steps=0)  # the same errors while tracing
    shape = x_seq.shape[1:]
    last = [x_seq.new_empty(shape) for _ in state_init]
    v_seq = x_seq.new_empty(x_seq.shape) if store_v_seq else x_seq.new_empty(0)
    saved = [x_seq.new_empty(x_seq.shape) for _ in state_init] if save else []
    return x_seq.new_empty(x_seq.shape), last, v_seq, saved


def _backend_backward(backend: str, spec: MultiStepSpec, inputs: BackwardInputs, params: list[Tensor],
                      validated: bool = False) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """``validated``: the forward of this very call checked the backend (sj's own autograd): not asked again."""
    h = inputs.saved[0]
    b = get_backend(resolve(backend, spec, h.device, h.dtype)) if validated else _backend(backend, spec, h)
    if h.shape[0] == 0:  # no step: the last states' gradients pass through (see _fwd_impl)
        grad_x = h.new_empty(h.shape)
        grad_init = [g.clone() if g is not None else h.new_zeros(h.shape[1:]) for g in inputs.grad_states_last]
        grad_params = [p.new_zeros(p.shape) if need else None
                       for p, need in zip(inputs.params, inputs.params_need_grad)]
    else:
        grad_x, grad_init, grad_params = b.backward(spec, inputs)
    # a backend returns a parameter's gradient per neuron or already reduced to the parameter's shape
    return grad_x, grad_init, [g if g.shape == p.shape else g.sum_to_size(p.shape)
                               for g, p, need in zip(grad_params, params, inputs.params_need_grad) if need]


def _run_backward(backend: str, neuron: str, surrogate: str, surrogate_params: list[float], soft_reset: bool,
                  detach_reset: bool, store_v_seq: bool, saved: list[Tensor], x_seq: Tensor,
                  state_init: list[Tensor], params: list[Tensor], params_need_grad: list[bool], grad_spike: Tensor,
                  grad_states_last: list[Tensor | None], grad_v_seq: Tensor | None
                  ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """The backend's backward for what a forward of this module saved (already valid: autograd gives gradients in
    their outputs' shapes)."""
    spec = _spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    inputs = BackwardInputs(saved, x_seq, state_init, params, list(params_need_grad), grad_spike, grad_states_last,
                            grad_v_seq)
    return _backend_backward(backend, spec, inputs, params, validated=True)


def _bwd_impl(backend: str, neuron: str, surrogate: str, surrogate_params: list[float], soft_reset: bool,
              detach_reset: bool, store_v_seq: bool, saved: list[Tensor], x_seq: Tensor, state_init: list[Tensor],
              params: list[Tensor], params_need_grad: list[bool], grad_spike: Tensor,
              grad_states_last: list[Tensor | None], grad_v_seq: Tensor | None
              ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """``sj::multistep_bwd``: any caller's arguments, checked (:func:`sj.ops.checks.backward_inputs`) before the
    backend runs; parameter gradients come back in the shapes of the params given."""
    spec = _checked_spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    inputs = backward_inputs(spec, _needs_x(neuron, soft_reset, detach_reset), saved, x_seq, state_init, params,
                             params_need_grad, grad_spike, grad_states_last, grad_v_seq)
    return _backend_backward(backend, spec, inputs, list(params))


@torch.library.register_fake("sj::multistep_bwd")
def _bwd_fake(backend, neuron, surrogate, surrogate_params, soft_reset, detach_reset, store_v_seq, saved, x_seq,
              state_init, params, params_need_grad, grad_spike, grad_states_last, grad_v_seq):
    spec = _checked_spec(neuron, surrogate, tuple(surrogate_params), soft_reset, detach_reset, store_v_seq)
    backward_inputs(spec, _needs_x(neuron, soft_reset, detach_reset), saved, x_seq, state_init, params,
                    params_need_grad, grad_spike, grad_states_last, grad_v_seq)  # the same errors while tracing
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


def _backward_op(checked: bool, *args):
    """``sj::multistep_bwd`` (same arguments), through the dispatcher unless :func:`_undispatched` allows otherwise;
    ``checked``: the arguments are as :func:`sj.ops.checks.prepare` made them (no need to check them again)."""
    if not _undispatched(args[12]):
        return torch.ops.sj.multistep_bwd(*args)
    return (_run_backward if checked else _bwd_impl)(*args)


def _save_context(ctx, config: tuple, needs_x: bool, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor],
                  saved: list[Tensor], checked: bool = True) -> None:
    """What the backward op needs, kept on an autograd context (shared by both autograd entries below); ``checked``:
    the tensors are as :func:`sj.ops.checks.prepare` made them."""
    ctx.config, ctx.n_states, ctx.n_saved, ctx.checked = tuple(config), len(state_init), len(saved), checked
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
        ctx.checked, *ctx.config, saved, x_seq if x_seq is not None else h.new_empty(0), state_init, params,
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
    """The op's own autograd (for code calling ``torch.ops.sj.multistep_fwd`` directly): keeps the arguments as given,
    so its backward checks and expands them again (:func:`_bwd_impl`) and returns gradients in their shapes."""
    *config, _save, x_seq, state_init, params = inputs
    config[3] = list(_checked_spec(config[1], config[2], tuple(config[3]), *config[4:]).surrogate_params)  # defaults
    needs_x = _needs_x(config[1], config[4], config[5])
    _save_context(ctx, config, needs_x, x_seq, list(state_init), list(params), list(output[3]), checked=False)


def _op_backward(ctx, grad_spike, grad_states_last, grad_v_seq, _grad_saved):
    if ctx.n_saved == 0:
        raise RuntimeError("sj::multistep_fwd was called with save=False, so it kept nothing to differentiate: call it "
                           "with save=True, or use sj.ops.multistep")
    grad_x, grad_init, grad_params = _gradients(ctx, grad_spike, grad_v_seq, grad_states_last)
    return (None,) * 8 + (grad_x, grad_init, grad_params)


_LIB.impl("multistep_fwd", _fwd_impl, "CompositeExplicitAutograd")
_LIB.impl("multistep_bwd", _bwd_impl, "CompositeExplicitAutograd")
torch.library.register_autograd("sj::multistep_fwd", _op_backward, setup_context=_op_setup_context)


def multistep(neuron: str, x_seq: Tensor, state_init: Sequence[Tensor], params: Sequence[Tensor | float], *,
              surrogate: str, surrogate_params: Sequence[float] = (), soft_reset: bool = False,
              detach_reset: bool = False, store_v_seq: bool = False, backend: str = AUTO
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
        backend: registered backend name (``sj backends`` lists them); ``"auto"`` (the default): the available
            backend of highest priority that supports this configuration, device and dtype
            (:func:`sj.backends.registry.resolve`).

    Returns:
        ``(spike_seq [T, *S], states_last [[*S], ...], v_seq [T, *S] or None)``.
    """
    spec = _checked_spec(neuron, surrogate, tuple(map(float, surrogate_params)), soft_reset, detach_reset,
                         store_v_seq)
    direct = _undispatched(x_seq)
    # Shared constants only for direct calls: one made under a mode or a tracer would leak out of it. (The op
    # implementation checks the backend.)
    states, tensors = prepare(spec, x_seq, state_init, params, shared=direct)
    config = (backend, spec.neuron, spec.surrogate, list(spec.surrogate_params), spec.soft_reset, spec.detach_reset,
              spec.store_v_seq)
    x_seq = x_seq.contiguous()
    if torch.is_grad_enabled() and (x_seq.requires_grad or any(t.requires_grad for t in (*states, *tensors))):
        needs_x = _needs_x(spec.neuron, spec.soft_reset, spec.detach_reset)
        spike, v_seq, *last = _MultiStepFunction.apply(config, needs_x, direct, len(states), x_seq, *states, *tensors)
    else:  # nothing to differentiate: the op alone, nothing saved
        spike, last, v_seq, _ = _forward_op(direct)(*config, False, x_seq, states, tensors)
    return spike, list(last), v_seq
