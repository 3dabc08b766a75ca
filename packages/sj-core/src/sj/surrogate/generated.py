"""Torch functions generated from the surrogate declarations: each surrogate's derivative and primitive of ``z``."""

from __future__ import annotations

import torch

from sj.codegen.ir import program_reads
from sj.codegen.torch_printer import TorchPrinter, compile_source

_compiled: dict[str, dict] = {}


def torch_functions(name: str) -> dict:
    """Generated torch functions of surrogate ``name``: ``derivative(z, *params)`` and, if declared,
    ``primitive(z, *params)`` (params as tensors or floats broadcastable with ``z``). Both return tensors shaped
    like ``z``, also when the expression does not depend on ``z`` (``DeterministicPass``'s derivative is 1)."""
    found = _compiled.get(name)  # no lock on the hit path: torch.compile traces it
    if found is not None:
        return found
    from sj.neuron.derived import surrogate_program  # here: sj.neuron imports this package

    prog = surrogate_program(name)
    pr = TorchPrinter()
    args = ", ".join(["z", *prog["params"]])

    def shaped(expr, reads: set[str]) -> str:
        # a constant in z would come back as a number or 0-d tensor: give it z's shape, dtype and device
        return pr.expr(expr) if "z" in reads else f"({pr.expr(expr)}) + torch.zeros_like(z)"

    lines = [f"def derivative({args}):"]
    lines += [f"    {n} = {pr.expr(e)}" for n, e in prog["derivative"]]
    reads = program_reads(prog["derivative"], [prog["derivative_out"]])
    lines.append(f"    return {shaped(prog['derivative_out'], reads)}")
    if prog["primitive"] is not None:
        lines += [f"def primitive({args}):",
                  f"    return {shaped(prog['primitive'], program_reads([], [prog['primitive']]))}"]
    fns = compile_source("\n".join(lines) + "\n", f"surrogate {name}")
    return _compiled.setdefault(name, fns)  # atomic; a race only generates twice


def heaviside(z: torch.Tensor) -> torch.Tensor:
    """Θ(z): 1 where ``z >= 0`` else 0, in ``z``'s dtype."""
    return (z >= 0).to(z.dtype)
