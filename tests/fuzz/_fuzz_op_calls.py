"""Random calls of the op entries ``sj::multistep_fwd`` / ``sj::multistep_bwd``, and what each backend must do with
them: raise the error the ``torch`` backend raises (a ``ValueError``, ``TypeError`` or ``BackendError`` with its
message), refuse a configuration it does not support, or return the ``torch`` backend's result — never crash, never
return something else. The fake implementations (``torch.compile``) must agree with the real ones.

Inputs are multiples of ``1/2`` in ``[-1, 1.5]`` and the neurons' constants halve, so with at most 4 steps every value
of the forward needs at most 8 significant bits: exact in every dtype (bfloat16 included), whether a backend rounds
between steps (``torch``) or not (kernels computing 16-bit tensors in float32), and spikes never depend on rounding.
Gradients pass through the surrogate's ``exp`` and are compared with a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from torch._subclasses.fake_tensor import FakeTensorMode

from sj.backends.registry import BackendError, unsupported_reason
from sj.neuron import declaration
from sj.ops.spec import MultiStepSpec

# per neuron: the values each parameter takes (one is drawn per element)
NEURONS = {
    "lif": {"v_threshold": (1.0,), "v_reset": (0.0, -0.5), "tau": (2.0,)},
    "cuba_lif": {"v_threshold": (1.0,), "v_reset": (0.0,), "c_decay": (0.5,), "v_decay": (0.5,)},
    "klif": {"v_threshold": (1.0,), "v_reset": (0.0,), "tau": (2.0,), "k": (0.5, 1.0)},  # backward reads x
}
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
GRAD_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 5e-2, torch.bfloat16: 1e-1}
CLEAR_ERRORS = (ValueError, TypeError, BackendError)

# How an argument deviates from what the op expects (most draws are valid: they reach the kernels).
SHAPES = ("exact", "exact", "exact", "broadcast", "scalar", "wrong")
LAYOUTS = ("contiguous", "contiguous", "strided", "transposed", "expanded")
FOREIGN = ("none",) * 12 + ("dtype", "meta")


@dataclass(frozen=True)
class Call:
    """One random forward and backward call (all choices; the tensors are made by :func:`make_inputs`)."""

    neuron: str
    dtype: torch.dtype
    T: int
    shape: tuple[int, ...]
    seed: int
    x_layout: str
    states: tuple[tuple[str, str, str], ...]  # per state: shape, layout, foreign
    params: tuple[tuple[str, str, str], ...]
    count_off: str  # "none", "states", "params", "surrogate"
    soft_reset: bool
    detach_reset: bool
    store_v_seq: bool
    grad_spike: str  # "ok", "shape", "dtype"
    grad_last: str  # "none", "ok", "shape"
    grad_v: str  # "none", "ok", "empty", "shape"
    need_grad: tuple[bool, ...]
    need_grad_off: bool
    saved: str  # "ok", "short", "time", "dtype"
    x_bwd: str  # "x", "empty"


@st.composite
def calls(draw) -> Call:
    neuron = draw(st.sampled_from(sorted(NEURONS)))
    decl = declaration.get(neuron)
    arg = st.tuples(st.sampled_from(SHAPES), st.sampled_from(LAYOUTS), st.sampled_from(FOREIGN))
    return Call(
        neuron=neuron, dtype=draw(st.sampled_from(DTYPES)), T=draw(st.integers(0, 4)),
        shape=tuple(draw(st.lists(st.integers(1, 5), max_size=3))), seed=draw(st.integers(0, 2**16)),
        x_layout=draw(st.sampled_from(LAYOUTS)),
        states=tuple(draw(arg) for _ in decl.state_names), params=tuple(draw(arg) for _ in decl.param_names),
        count_off=draw(st.sampled_from(("none",) * 12 + ("states", "params", "surrogate"))),
        soft_reset=draw(st.booleans()), detach_reset=draw(st.booleans()), store_v_seq=draw(st.booleans()),
        grad_spike=draw(st.sampled_from(("ok",) * 8 + ("shape", "dtype"))),
        grad_last=draw(st.sampled_from(("none", "ok", "ok", "shape"))),
        grad_v=draw(st.sampled_from(("none", "ok", "empty", "shape"))),
        need_grad=tuple(draw(st.booleans()) for _ in decl.param_names), need_grad_off=draw(st.booleans()) and
        draw(st.booleans()) and draw(st.booleans()),
        saved=draw(st.sampled_from(("ok",) * 8 + ("short", "time", "dtype"))),
        x_bwd=draw(st.sampled_from(("x",) * 5 + ("empty",))),
    )


def _values(gen: torch.Generator, shape: tuple[int, ...], choices: tuple[float, ...] | None = None) -> torch.Tensor:
    """float64 values: multiples of 1/2 in [-1, 1.5], or drawn from ``choices``."""
    if choices is None:
        return torch.randint(-2, 4, shape, generator=gen).double() / 2
    pick = torch.randint(0, len(choices), shape, generator=gen)
    return torch.tensor(choices, dtype=torch.float64)[pick]


def _laid_out(t: torch.Tensor, layout: str) -> torch.Tensor:
    """``t`` with the same values in other strides (``expanded``: its first slice broadcast, stride 0)."""
    if t.dim() == 0 or layout == "contiguous":
        return t
    if layout == "strided":  # every other element of a tensor twice as wide
        wide = t.new_zeros((*t.shape[:-1], 2 * t.shape[-1]))
        wide[..., ::2] = t
        return wide[..., ::2]
    if layout == "transposed":
        return t.transpose(0, -1).contiguous().transpose(0, -1)
    return t[:1].expand(t.shape)


def _argument(gen: torch.Generator, how: tuple[str, str, str], S: tuple[int, ...], dtype: torch.dtype,
              choices: tuple[float, ...] | None) -> torch.Tensor:
    shape_kind, layout, foreign = how
    if shape_kind == "exact":
        shape = S
    elif shape_kind == "scalar":
        shape = ()
    elif shape_kind == "broadcast":  # leading dimensions dropped, the rest kept or 1
        kept = S[int(torch.randint(0, len(S) + 1, (), generator=gen)):]
        shape = tuple(n if bool(torch.randint(0, 2, (), generator=gen)) else 1 for n in kept)
    else:  # one size that does not broadcast (a [1] buffer for [N] neurons once corrupted the heap)
        shape = (*S[:-1], S[-1] + 1) if S else (2,)
    t = _values(gen, shape, choices)
    t = t.to(torch.float64 if dtype != torch.float64 else torch.float32) if foreign == "dtype" else t.to(dtype)
    t = _laid_out(t, layout)
    return t.to("meta") if foreign == "meta" else t


def make_inputs(c: Call) -> tuple[list, list[torch.Tensor], list[torch.Tensor], list[float]]:
    """``(x_seq, state_init, params, surrogate_params)`` of a call."""
    gen = torch.Generator().manual_seed(c.seed)
    decl = declaration.get(c.neuron)
    x = _laid_out(_values(gen, (c.T, *c.shape)).to(c.dtype), c.x_layout)
    states = [_argument(gen, how, c.shape, c.dtype, None) for how in c.states]
    params = [_argument(gen, how, c.shape, c.dtype, NEURONS[c.neuron][name])
              for name, how in zip(decl.param_names, c.params)]
    sparams = [4.0]
    if c.count_off == "states":
        states = states[:-1] if len(states) > 1 else [*states, states[0]]
    elif c.count_off == "params":
        params = params[:-1]
    elif c.count_off == "surrogate":
        sparams = [4.0, 1.0]
    return x, states, params, sparams


def _wrong_shape(t: torch.Tensor) -> torch.Tensor:
    return t.new_zeros((*t.shape[:-1], t.shape[-1] + 1)) if t.dim() else t.new_zeros(2)


def backward_args(c: Call, x: torch.Tensor, states, params, forward: tuple, gen_seed: int) -> tuple:
    """The backward op's tensor arguments after a forward that returned ``forward``."""
    spike, _last, _v_seq, saved = forward
    gen = torch.Generator().manual_seed(gen_seed)
    grad = _values(gen, tuple(spike.shape)).to(spike.dtype)
    grad_spike = {"ok": grad, "shape": _wrong_shape(grad), "dtype": grad.double() if grad.dtype != torch.float64
                  else grad.float()}[c.grad_spike]
    grad_last = [None if c.grad_last == "none" else
                 (_values(gen, c.shape).to(c.dtype) if c.grad_last == "ok" else _wrong_shape(_values(gen, c.shape)))
                 for _ in states]
    grad_v = {"none": None, "ok": grad.flip(0), "empty": grad.new_empty(0), "shape": _wrong_shape(grad)}[c.grad_v]
    saved = list(saved)
    if c.saved == "short":
        saved = saved[:-1]
    elif c.saved == "time" and saved:
        saved[0] = saved[0][:-1]
    elif c.saved == "dtype" and saved:
        saved[-1] = saved[-1].double() if saved[-1].dtype != torch.float64 else saved[-1].float()
    need = list(c.need_grad[:-1] if c.need_grad_off else c.need_grad)
    x_bwd = x if c.x_bwd == "x" else x.new_empty(0)
    return saved, x_bwd, list(states), list(params), need, grad_spike, grad_last, grad_v


def config(c: Call, backend: str, sparams: list[float]) -> tuple:
    return (backend, c.neuron, "Sigmoid", sparams, c.soft_reset, c.detach_reset, c.store_v_seq)


def outcome(fn):
    """``("ok", result)`` or ``("error", type name, message)`` for a clear error; anything else propagates."""
    try:
        return ("ok", fn())
    except CLEAR_ERRORS as exc:
        return ("error", type(exc).__name__, str(exc))


def _flat(result) -> list:
    out = []
    for r in result:
        out += list(r) if isinstance(r, (list, tuple)) else [r]
    return out


def assert_same(got, want, what: str, tol: float | None) -> None:
    """Same outcome: the same error, or tensors alike (exactly when ``tol`` is ``None``)."""
    assert got[0] == want[0], f"{what}: {got[:1] + got[1:][:2]} but torch gave {want[:1] + want[1:][:2]}"
    if got[0] == "error":
        assert got[1:] == want[1:], f"{what}: {got[1:]} but torch raised {want[1:]}"
        assert got[2], f"{what}: an error without a message"
        return
    a, b = _flat(got[1]), _flat(want[1])
    assert len(a) == len(b), f"{what}: {len(a)} outputs, torch gave {len(b)}"
    for i, (u, v) in enumerate(zip(a, b)):
        assert u.shape == v.shape and u.dtype == v.dtype, \
            f"{what} output {i}: {u.dtype}{tuple(u.shape)} vs torch {v.dtype}{tuple(v.shape)}"
        if tol is None:
            assert torch.equal(u, v), f"{what} output {i} differs from torch"
        else:
            torch.testing.assert_close(u, v, rtol=tol, atol=tol, equal_nan=True, msg=f"{what} output {i}")


def assert_fake_agrees(op, args: tuple, real) -> None:
    """The op's fake implementation raises the same clear error, or gives the real outputs' shapes and dtypes."""
    mode = FakeTensorMode(allow_non_fake_inputs=False)

    def fake(a):
        if isinstance(a, torch.Tensor):
            return mode.from_tensor(a)
        return [fake(t) for t in a] if isinstance(a, list) else a

    fargs = tuple(fake(a) for a in args)
    with mode:
        got = outcome(lambda: op(*fargs))
    if real[0] == "error":
        # a backend that refuses the configuration is judged by the real call only
        if not real[2].startswith(("backend ", "unknown backend")):
            assert got[:2] == real[:2] and got[2] == real[2], f"fake: {got[1:]} but real: {real[1:]}"
        return
    assert got[0] == "ok", f"the fake raised {got[1:]} where the real op ran"
    a, b = _flat(got[1]), _flat(real[1])
    assert [(t.shape, t.dtype) for t in a] == [(t.shape, t.dtype) for t in b], "fake and real outputs differ"


def unsupported(backend: str, c: Call, sparams: list[float]) -> bool:
    spec = MultiStepSpec(c.neuron, "Sigmoid", tuple(sparams), c.soft_reset, c.detach_reset, c.store_v_seq)
    return unsupported_reason(backend, spec, torch.device("cpu"), c.dtype) is not None


def check(backend: str, c: Call) -> None:
    """Run ``c`` on ``backend`` and on ``torch``, forward then backward, and compare (see the module docstring)."""
    x, states, params, sparams = make_inputs(c)
    fwd = torch.ops.sj.multistep_fwd
    fwd_args = lambda b: (*config(c, b, sparams), True, x, states, params)  # noqa: E731
    got = outcome(lambda: fwd(*fwd_args(backend)))
    want = got if backend == "torch" else outcome(lambda: fwd(*fwd_args("torch")))
    assert_fake_agrees(fwd, fwd_args(backend), got)
    if got[0] == "error" and want[0] == "ok":
        assert got[1] == "BackendError" and unsupported(backend, c, sparams), f"forward: {got[1:]}"
        return
    assert_same(got, want, "forward", None)
    if got[0] == "error":
        return
    bwd = torch.ops.sj.multistep_bwd
    tail = backward_args(c, x, states, params, want[1], c.seed + 1)
    got_b = outcome(lambda: bwd(*config(c, backend, sparams), *backward_args(c, x, states, params, got[1],
                                                                             c.seed + 1)))
    want_b = got_b if backend == "torch" else outcome(lambda: bwd(*config(c, "torch", sparams), *tail))
    assert_fake_agrees(bwd, (*config(c, backend, sparams), *tail), got_b)
    assert_same(got_b, want_b, "backward", GRAD_TOLERANCE[c.dtype])


def fuzz_settings(examples: int):
    """Bounded and reproducible: the same examples on every run (CI), no example database, no deadline (the first
    call of a configuration may compile a kernel)."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
