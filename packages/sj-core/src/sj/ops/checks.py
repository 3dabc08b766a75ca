"""Validation of the multi-step op's inputs: what every backend may rely on (:mod:`sj.backends.base`).

Both :func:`sj.ops.multistep` and the op entries ``sj::multistep_fwd`` / ``sj::multistep_bwd`` run these checks
before any backend sees a tensor, so a kernel that indexes ``T·N`` elements never reads or writes past a buffer that
is smaller, of another dtype or on another device — for every backend, plug-ins included. The rules, per argument:

- ``x_seq`` (and, in backward, the saved ``h_seq``): a dense floating tensor ``[T, *S]``; any strides (the backend
  gets a contiguous copy).
- initial states and parameters: ``x_seq``'s dtype and device (refused otherwise: a silent conversion would hide a
  mistake, and a wrong-dtype buffer is what kernels read out of bounds); any shape that broadcasts to ``S``, expanded
  to ``S`` (parameters stay 0-d when they are), as the ``torch`` reference always did.
- gradients (backward): exactly the shape of the output they are the gradient of — autograd never gives another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from sj.backends.base import BackwardInputs, shared_constant
from sj.ops.spec import MultiStepSpec

Tensor = torch.Tensor
_PLAIN = (Tensor, torch.nn.Parameter)  # tensor types taken as they are (no subclass with its own dispatch)
_STRIDED = torch.strided


def check_sequence(what: str, x: Tensor, min_steps: int) -> None:
    """``x`` is a dense floating ``[T, *S]`` tensor with ``T >= min_steps``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{what} must be floating point, got {x.dtype}")
    if x.layout != _STRIDED:
        raise TypeError(f"{what} must be a dense (strided) tensor, got layout {x.layout}")
    if x.dim() < 1 or x.shape[0] < min_steps:
        raise ValueError(f"{what} must have shape [T, *S] with T >= {min_steps}, got {tuple(x.shape)}")


def check_tensor(what: str, t: Tensor, ref: Tensor, shape: torch.Size, exact: bool = False) -> None:
    """``t`` is a dense tensor of ``ref``'s device and dtype whose shape broadcasts to ``shape`` (equals it when
    ``exact``)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(t).__name__}")
    if t.device != ref.device:
        raise ValueError(f"{what} is on {t.device} but x_seq is on {ref.device}")
    if t.dtype != ref.dtype:
        raise TypeError(f"{what} has dtype {t.dtype} but x_seq has {ref.dtype}")
    if t.layout != _STRIDED:
        raise TypeError(f"{what} must be a dense (strided) tensor, got layout {t.layout}")
    if exact:
        if t.shape != shape:
            raise ValueError(f"{what} has shape {tuple(t.shape)}, expected {tuple(shape)}")
    # Checked by hand: torch.broadcast_shapes imports sympy (~0.5 s) on first use.
    elif t.dim() > len(shape) or any(a not in (1, b) for a, b in zip(reversed(t.shape), reversed(shape))):
        raise ValueError(f"{what} of shape {tuple(t.shape)} does not broadcast to the neuron shape {tuple(shape)}")


def finite_param(name: str, value: float) -> float:
    """Return the number parameter ``value`` of parameter ``name`` if it is finite, else raise ``ValueError`` naming
    it; ``v_threshold`` may be ``inf`` (a neuron that never fires)."""
    if not math.isfinite(value) and name != "v_threshold":  # an infinite threshold is a valid "never fire"
        raise ValueError(f"parameter {name!r} must be finite, got {value}")
    return value


def prepare(spec: MultiStepSpec, x_seq: Tensor, state_init: Sequence, params: Sequence, shared: bool,
            min_steps: int = 1) -> tuple[list[Tensor], list[Tensor]]:
    """Validate ``x_seq``, the initial states and the params as the module docstring says; return the states
    expanded to ``S`` and the params as ``()`` or ``S`` tensors, all contiguous (number params become shared
    constants when ``shared``, else new tensors; number states become tensors)."""
    decl = spec.decl
    check_sequence("x_seq", x_seq, min_steps)
    shape = x_seq.shape[1:]
    if len(state_init) != len(decl.state_names):
        raise ValueError(f"neuron {decl.name!r} has states {decl.state_names}, got {len(state_init)} initial values")
    if len(params) != len(decl.param_names):
        raise ValueError(f"neuron {decl.name!r} has params {decl.param_names}, got {len(params)} values")
    dtype, device = x_seq.dtype, x_seq.device
    states = []
    for name, s in zip(decl.state_names, state_init):
        if type(s) is Tensor and s.dtype == dtype and s.device == device and s.shape == shape \
                and s.layout == _STRIDED:  # the usual case
            states.append(s.contiguous())
            continue
        s = torch.as_tensor(s, dtype=dtype, device=device) if not isinstance(s, Tensor) else s
        check_tensor(f"initial state {name!r}", s, x_seq, shape)
        states.append(s.expand(shape).contiguous() if s.shape != shape else s.contiguous())
    tensors = []
    for name, p in zip(decl.param_names, params):
        # a module's buffers and parameters
        if type(p) in _PLAIN and p.dim() == 0 and p.dtype == dtype and p.device == device and p.layout == _STRIDED:
            tensors.append(p)
            continue
        if not isinstance(p, Tensor):
            value = finite_param(name, float(p))
            tensors.append(shared_constant(value, dtype, device) if shared
                           else torch.tensor(value, dtype=dtype, device=device))
            continue
        check_tensor(f"parameter {name!r}", p, x_seq, shape)
        if p.dim() > 0 and p.shape != shape:
            p = p.expand(shape)
        tensors.append(p.contiguous())
    return states, tensors


def backward_inputs(spec: MultiStepSpec, needs_x: bool, saved: Sequence[Tensor], x_seq: Tensor,
                    state_init: Sequence[Tensor], params: Sequence[Tensor], params_need_grad: Sequence[bool],
                    grad_spike: Tensor, grad_states_last: Sequence[Tensor | None], grad_v_seq: Tensor | None
                    ) -> BackwardInputs:
    """The backward op's arguments validated (against the saved ``h_seq``: ``[T, *S]``) and normalised as
    :func:`prepare` does; ``needs_x``: whether the program reads ``x_seq`` (``spec.program["needs_x"]``), which is
    replaced by an empty tensor otherwise."""
    names = spec.decl.state_names
    if len(saved) != len(names):
        raise ValueError(f"saved must hold {len(names)} tensors (h_seq, then the sequences of the aux states "
                         f"{list(names[1:])}) as the forward op returned them, got {len(saved)}")
    h = saved[0]
    check_sequence("saved h_seq", h, 0)
    shape = h.shape[1:]
    for name, s in zip(names[1:], saved[1:]):
        check_tensor(f"saved sequence of {name!r}", s, h, h.shape, exact=True)
    states, tensors = prepare(spec, h, state_init, params, shared=False, min_steps=0)
    if needs_x:
        if not isinstance(x_seq, Tensor) or x_seq.shape != h.shape:
            got = tuple(x_seq.shape) if isinstance(x_seq, Tensor) else type(x_seq).__name__
            raise ValueError(f"the backward of {spec.describe()} reads x_seq, got shape {got} for saved H of shape "
                             f"{tuple(h.shape)}")
        check_tensor("x_seq", x_seq, h, h.shape, exact=True)
        x = x_seq.contiguous()
    else:
        x = x_seq if isinstance(x_seq, Tensor) and x_seq.numel() == 0 else h.new_empty(0)
    if len(params_need_grad) != len(tensors):
        raise ValueError(f"params_need_grad has {len(params_need_grad)} flags for {len(tensors)} params")
    check_tensor("grad_spike", grad_spike, h, h.shape, exact=True)
    if len(grad_states_last) != len(names):
        raise ValueError(f"grad_states_last must hold {len(names)} entries (one per state {list(names)}, None for "
                         f"none), got {len(grad_states_last)}")
    grads_last = []
    for name, g in zip(names, grad_states_last):
        if g is not None:
            check_tensor(f"gradient of the last state {name!r}", g, h, shape, exact=True)
            g = g.contiguous()
        grads_last.append(g)
    if grad_v_seq is not None and grad_v_seq.numel() == 0:
        grad_v_seq = None
    if grad_v_seq is not None:
        check_tensor("grad_v_seq", grad_v_seq, h, h.shape, exact=True)
        grad_v_seq = grad_v_seq.contiguous()
    return BackwardInputs([s.contiguous() for s in saved], x, states, tensors, [bool(n) for n in params_need_grad],
                          grad_spike.contiguous(), grads_last, grad_v_seq)
