"""Generate PyTorch step functions from a neuron's derived programs (cached per neuron × reset × surrogate).

``step_fns(spec)`` returns a namespace with:

- ``forward(x, *states, *params) -> (s, *new_states, h)``: one step, Θ for the spike (no autograd through it).
- ``backward(h, x, *prev_states, *params, *surrogate_params, grad_s, *grad_states) -> (grad_x, *grad_prev_states,
  *grad_params)``: one step of backward-through-time (``x`` is ``None`` unless the program needs it).
- ``v_after(h, *params) -> v``: the membrane after fire and reset, from the saved H (to recompute the previous V).
- ``autograd_step(x, *states, *params, spike_fn)``: one step built from differentiable torch ops
  with ``spike_fn(z)`` as the spike (single-step mode; torch autograd differentiates it); returns
  ``(s, *new_states, h)``.
"""

from __future__ import annotations

import torch

from sj.codegen.ir import inline_surrogate, rename
from sj.codegen.torch_printer import TorchPrinter, compile_source

_cache: dict[tuple, dict] = {}


def _source(prog: dict, sprog: dict) -> str:
    pr = TorchPrinter()
    states, params = prog["states"], prog["params"]
    sparams = sprog["params"]
    out = []

    # forward: one step
    out.append(f"def forward(x, {', '.join(states)}, {', '.join(params)}):")
    out += pr.assignments(prog["forward"])
    new_states = [pr.expr(prog["forward_out"][n]) for n in states]
    out.append(f"    return s, {', '.join(new_states)}, h")

    # v after reset, from h
    out.append(f"def v_after(h, {', '.join(params)}):")
    out.append("    z = h - v_threshold")
    out.append("    s = _heaviside(z)")
    out.append(f"    return {pr.expr(prog['reset'])}")

    # backward: one step
    grads = [f"grad_{n}" for n in states]
    args = ["h", "x", *states, *params, *sparams, "grad_s", *grads]
    out.append(f"def backward({', '.join(args)}):")
    out += pr.assignments(inline_surrogate(prog["backward"], sprog))
    results = [pr.expr(prog["backward_out"][n]) for n in ["x", *states, *params]]
    out.append(f"    return ({', '.join(results)},)")

    # differentiable single step: spike via spike_fn; detach handled by renaming s after the fire binding
    out.append(f"def autograd_step(x, {', '.join(states)}, {', '.join(params)}, spike_fn):")
    detached = prog["detach_reset"]
    mapping = {"s": "s_d"} if detached else {}
    fired = False
    for name, expr in prog["forward"]:
        if name == "s":
            out.append("    s = spike_fn(z)")
            if detached:
                out.append("    s_d = s.detach()")
            fired = True
            continue
        out.append(f"    {name} = {pr.expr(rename(expr, mapping) if fired else expr)}")
    new_states = [pr.expr(rename(prog["forward_out"][n], mapping)) for n in states]
    out.append(f"    return s, {', '.join(new_states)}, h")
    return "\n".join(out) + "\n"


def step_fns(spec, smooth: bool = False) -> dict:
    """Generated torch step functions for ``spec`` (a :class:`sj.ops.spec.MultiStepSpec`).

    ``smooth=True`` replaces the spike Θ(z) by the surrogate's primitive g(z) (with ``spec.surrogate_params``)
    everywhere, forward and backward: the same derived backward is then the exact gradient of a smooth map, which
    ``torch.autograd.gradcheck`` can verify against finite differences.
    """
    key = (spec.neuron, spec.decl.content_hash, spec.soft_reset, spec.detach_reset, spec.surrogate,
           spec.surrogate_params if smooth else None)
    found = _cache.get(key)  # no lock on the hit path: torch.compile traces it (single-step mode)
    if found is not None:
        return found
    src = _source(spec.program, spec.surrogate_program)
    extra = {}
    if smooth:
        from sj.surrogate import torch_functions

        primitive = torch_functions(spec.surrogate)["primitive"]
        extra["_heaviside"] = lambda z: primitive(z, *(torch.as_tensor(p, dtype=z.dtype) for p in
                                                      spec.surrogate_params))
    fns = compile_source(src, f"{spec.neuron}/{spec.surrogate}", extra)
    fns["__source__"] = src
    return _cache.setdefault(key, fns)  # atomic; a race only generates twice
