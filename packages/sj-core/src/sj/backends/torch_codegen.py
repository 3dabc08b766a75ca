"""Generate PyTorch step functions from a neuron's derived programs (cached per neuron × reset × surrogate).

``step_fns(spec)`` returns a namespace with:

- ``forward(x, *states, *params) -> (s, *new_states, h)``: one step, Θ for the spike (no autograd through it).
- ``backward(h, x, *prev_states, *params, *surrogate_params, grad_s, *grad_states) -> (grad_x, *grad_prev_states,
  *grad_params)``: one step of backward-through-time (``x`` is ``None`` unless the program needs it).
  :func:`backward_fn` gives the same step computing only the parameter gradients a call asks for.
- ``v_after(h, *params) -> v``: the membrane after fire and reset, from the saved H (to recompute the previous V).
- ``autograd_step(x, *states, *params, spike_fn)``: one step built from differentiable torch ops
  with ``spike_fn(z)`` as the spike (single-step mode; torch autograd differentiates it); returns
  ``(s, *new_states, h)``.
"""

from __future__ import annotations

import torch

from sj.codegen.fold import fold, fold_program
from sj.codegen.ir import inline_surrogate, program_reads, prune, rename
from sj.codegen.torch_printer import TorchPrinter, compile_source

_cache: dict[tuple, dict] = {}
_backward_cache: dict[tuple, object] = {}  # backward_fn's, by spec and the parameter gradients wanted


def _source(prog: dict, sprog: dict) -> str:
    pr = TorchPrinter()
    states, params = prog["states"], prog["params"]
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

    out += _backward_source(prog, sprog, "backward", params)[0]

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


def _backward_source(prog: dict, sprog: dict, name: str, wanted_params: list[str]) -> tuple[list[str], set[str]]:
    """Lines of a backward step ``name`` returning ``(grad_x, *grad_prev_states, *grads of wanted_params)``: only the
    bindings those depend on (a parameter gradient nobody asked for costs several tensor ops per step); and the
    names those lines read."""
    pr = TorchPrinter()
    states = prog["states"]
    args = ["h", "x", *states, *prog["params"], *sprog["params"], "grad_s", *(f"grad_{n}" for n in states)]
    results = [prog["backward_out"][n] for n in ["x", *states, *wanted_params]]
    # parameters and surrogate parameters are the same at every step: their products are gathered first (sj.codegen.
    # fold), so fewer operators pass over all neurons
    pruned = prune(inline_surrogate(prog["backward"], sprog), results)
    body, invariant = fold_program(pruned, {*prog["params"], *sprog["params"]})
    lines = [f"def {name}({', '.join(args)}):"]
    lines += pr.assignments(body)
    lines.append(f"    return ({', '.join(pr.expr(fold(r, invariant)) for r in results)},)")
    return lines, program_reads(pruned, results)


def backward_fn(spec, wanted: tuple[bool, ...]):
    """The backward step of ``spec`` (as ``step_fns(spec)["backward"]``) returning the gradients of only the
    parameters flagged in ``wanted`` (one flag per parameter): ``(grad_x, *grad_prev_states, *wanted grads)``."""
    key = (spec.neuron, spec.decl.content_hash, spec.soft_reset, spec.detach_reset, spec.surrogate, wanted)
    found = _backward_cache.get(key)
    if found is None:
        prog = spec.program
        names = [p for p, w in zip(prog["params"], wanted) if w]
        lines, reads = _backward_source(prog, spec.surrogate_program, "backward", names)
        fn = compile_source("\n".join(lines) + "\n", f"{spec.neuron}/{spec.surrogate}/grads")["backward"]
        # which previous states it reads: a state it does not read need not be recomputed (LIF without parameter
        # gradients reads no previous v)
        fn.reads_states = tuple(n in reads for n in prog["states"])
        found = _backward_cache.setdefault(key, fn)
    return found


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
