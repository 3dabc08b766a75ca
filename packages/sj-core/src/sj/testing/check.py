"""Run one conformance case on a backend and on the reference, and compare."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sj.backends.torch_codegen import step_fns
from sj.neuron import declaration
from sj.ops import MultiStepSpec, multistep
from sj.surrogate.declarations import surrogates
from sj.testing.cases import INPUT_SCALE, PARAMS, ConformanceCase

Tensor = torch.Tensor


@dataclass(frozen=True)
class Tolerance:
    """``|backend − reference| <= atol·max(1, max|reference|) + rtol·|reference|``; a spike may differ from the
    reference only where the reference's ``|h − v_threshold| < flip`` (rounding decides such a spike)."""

    atol: float
    rtol: float
    flip: float


#: Tolerances of the conformance checks, per dtype.
TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float64: Tolerance(1e-9, 1e-7, 1e-9),
    torch.float32: Tolerance(2e-4, 1e-3, 1e-4),
    torch.float16: Tolerance(3e-2, 3e-2, 1e-2),
    torch.bfloat16: Tolerance(1e-1, 1e-1, 5e-2),
}


def _quantised(g: torch.Generator, shape, lo: float, hi: float, step: float = 1 / 32) -> Tensor:
    """Uniform values on a grid of ``step`` (exactly representable, so dtypes disagree less by accident)."""
    u = torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo
    return torch.round(u / step) * step


def make_inputs(case: ConformanceCase) -> dict:
    """Float64 CPU inputs of a case, already rounded through ``case.dtype``."""
    decl = declaration.get(case.neuron)
    g = torch.Generator().manual_seed(case.seed)
    T, S = case.shape[0], tuple(case.shape[1:])
    scale = INPUT_SCALE.get(case.neuron, 1.0)
    x = _quantised(g, (T, *S), -1.0 * scale, 2.0 * scale)
    states = [_quantised(g, S, -0.5, 0.5) if n == "v" else _quantised(g, S, -0.25, 0.25) for n in decl.state_names]
    base = {**PARAMS.get(case.neuron, {}), **dict(case.param_values)}
    base["v_threshold"] = 1.0
    base["v_reset"] = 0.0 if case.soft_reset else -0.125
    params = []
    for name in decl.param_names:
        if name not in base:
            raise KeyError(f"no conformance value for parameter {name!r} of {case.neuron!r}; pass "
                           "param_values={...} to conformance_cases")
        v = base[name]
        if case.per_neuron and not (case.soft_reset and name == "v_reset"):
            spread = max(abs(v) * 0.25, 0.125)
            params.append(v + _quantised(g, S, -spread, spread, 1 / 64))
        else:
            params.append(torch.tensor(v, dtype=torch.float64))
    grad_s = _quantised(g, (T, *S), -1.0, 1.0)
    grad_v = _quantised(g, (T, *S), -1.0, 1.0) if case.store_v_seq else None
    grad_last = [_quantised(g, S, -1.0, 1.0) for _ in decl.state_names]
    rounded = lambda t: None if t is None else t.to(case.dtype).to(torch.float64)  # noqa: E731
    return {"x": rounded(x), "states": [rounded(s) for s in states], "params": [rounded(p) for p in params],
            "grad_s": rounded(grad_s), "grad_v": rounded(grad_v), "grad_last": [rounded(t) for t in grad_last]}


def _on(t: Tensor, device, dtype, strided: bool) -> Tensor:
    """``t`` on ``device``/``dtype``, as a non-contiguous view when ``strided``."""
    if not strided or t.dim() == 0:
        return t.to(device=device, dtype=dtype).contiguous()
    big = torch.zeros((*t.shape, 2), device=device, dtype=dtype)
    big[..., 1] = t.to(device=device, dtype=dtype)
    view = big[..., 1]
    assert not view.is_contiguous()
    return view


def run(backend: str, case: ConformanceCase, inputs: dict, device, dtype: torch.dtype) -> dict:
    """Forward + backward of one case on ``backend``; returns float64 CPU results."""
    sg = surrogates.get(case.surrogate)
    x = _on(inputs["x"], device, dtype, case.noncontiguous).requires_grad_()
    states = [s.to(device, dtype).requires_grad_() for s in inputs["states"]]
    params = [p.to(device, dtype).requires_grad_() for p in inputs["params"]]
    before = [t.detach().clone() for t in (x, *states, *params)]
    spike, last, v_seq = multistep(case.neuron, x, states, params, surrogate=case.surrogate,
                                   surrogate_params=sg.defaults, soft_reset=case.soft_reset,
                                   detach_reset=case.detach_reset, store_v_seq=case.store_v_seq, backend=backend)
    loss = (spike * _on(inputs["grad_s"], device, dtype, case.noncontiguous)).sum()
    if case.store_v_seq:
        loss = loss + (v_seq * _on(inputs["grad_v"], device, dtype, case.noncontiguous)).sum()
    if not case.unused_last:  # else the backend gets None for the last states' gradients
        for s, gl in zip(last, inputs["grad_last"]):
            loss = loss + (s * gl.to(device, dtype)).sum()
    grads = torch.autograd.grad(loss, [x, *states, *params])
    # Kernels may only read their inputs (modules share one initial-state tensor across calls, for one).
    for name, t, original in zip(["x", *(f"initial state {k}" for k in range(len(states))),
                                  *(f"parameter {k}" for k in range(len(params)))], [x, *states, *params], before):
        if not torch.equal(t.detach(), original):
            raise AssertionError(f"[{case}] backend {backend!r} wrote into its input {name}")
    cpu = lambda t: t.detach().to("cpu", torch.float64)  # noqa: E731
    return {"spike": cpu(spike), "v_seq": None if v_seq is None else cpu(v_seq), "last": [cpu(s) for s in last],
            "grads": [cpu(g) for g in grads]}


def _h_sequence(case: ConformanceCase, inputs: dict) -> Tensor:
    """The reference's charged potential H at every step (to judge spikes decided by rounding)."""
    sg = surrogates.get(case.surrogate)
    spec = MultiStepSpec(case.neuron, case.surrogate, sg.defaults, case.soft_reset, case.detach_reset, False)
    step = step_fns(spec)["forward"]
    states = [s.expand(inputs["x"].shape[1:]) for s in inputs["states"]]
    hs = []
    for t in range(inputs["x"].shape[0]):
        _, *states, h = step(inputs["x"][t], *states, *inputs["params"])
        hs.append(h)
    return torch.stack(hs)


def _close(name: str, got: Tensor, ref: Tensor, tol: Tolerance, case: ConformanceCase) -> None:
    if got.shape != ref.shape:
        raise AssertionError(f"[{case}] {name}: shape {tuple(got.shape)} != reference {tuple(ref.shape)}")
    if not torch.isfinite(ref).all():
        raise AssertionError(f"[{case}] {name}: the reference itself is not finite (case inputs too large)")
    bound = tol.atol * max(1.0, ref.abs().max().item()) + tol.rtol * ref.abs()
    err = (got - ref).abs()
    bad = ~(err <= bound)
    if bad.any():
        idx = tuple(int(i) for i in bad.nonzero()[0])
        raise AssertionError(f"[{case}] {name}: {int(bad.sum())} of {ref.numel()} elements differ; first at {idx}: "
                             f"backend {got[idx].item():.9g} vs reference {ref[idx].item():.9g} "
                             f"(max error {err.max().item():.3g})")


def check_case(backend: str, case: ConformanceCase, device: str | torch.device = "cpu", gradients: bool = True
               ) -> None:
    """Compare ``backend`` with the ``torch`` reference on ``case``; raise ``AssertionError`` naming what differs.

    If the only spike differences sit where the reference's ``|h − v_threshold|`` is below the dtype's rounding
    tolerance, the rest of the sequence legitimately diverges: the case is skipped (with pytest) as inconclusive.
    ``gradients=False`` compares the forward only (spikes, ``v_seq``, last states).
    """
    tol = TOLERANCES[case.dtype]
    inputs = make_inputs(case)
    got = run(backend, case, inputs, torch.device(device), case.dtype)
    ref = run("torch", case, inputs, torch.device("cpu"), torch.float64)
    mismatch = got["spike"] != ref["spike"]
    if mismatch.any():
        t0 = int(mismatch.flatten(1).any(1).nonzero()[0])
        h = _h_sequence(case, inputs)
        vth = inputs["params"][0].expand(h.shape[1:])
        margin = (h[t0] - vth).abs()[mismatch[t0]]
        if (margin > tol.flip).any():
            raise AssertionError(f"[{case}] spikes differ at t={t0} where the reference is {margin.max().item():.3g} "
                                 f"from threshold (allowed for rounding: {tol.flip})")
        _inconclusive(f"[{case}] spike decided by rounding at t={t0} (|h - v_th| <= {margin.max().item():.2g})")
        return
    if case.store_v_seq:
        _close("v_seq", got["v_seq"], ref["v_seq"], tol, case)
    decl = declaration.get(case.neuron)
    for name, a, b in zip(decl.state_names, got["last"], ref["last"]):
        _close(f"last {name}", a, b, tol, case)
    if not gradients:
        return
    names = ["grad x", *(f"grad initial {n}" for n in decl.state_names), *(f"grad {p}" for p in decl.param_names)]
    for name, a, b in zip(names, got["grads"], ref["grads"]):
        _close(name, a, b, tol, case)


def _inconclusive(message: str) -> None:
    try:
        import pytest
    except ImportError:  # outside pytest: say so loudly instead of passing silently
        raise AssertionError("inconclusive: " + message) from None
    pytest.skip(message)
