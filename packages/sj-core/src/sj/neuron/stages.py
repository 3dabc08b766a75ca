"""A declaration's step split at the spike, as torch functions: what SpikingJelly's ``neuronal_charge`` and
``neuronal_reset`` do for a declared neuron.

A subclass that overrides one of the stages (``neuronal_charge``, ``neuronal_fire``, ``neuronal_reset``) runs in
Python with the declaration supplying the others:

- ``charge(x, *states, *params) -> (*aux, h)``: the pre updates and the charge (``aux`` the aux states after the pre
  updates, in declaration order);
- ``settle(x, v, *aux, h, s, *params) -> (v, *aux)``: the post updates and the reset, from the input ``x``, the
  membrane ``v`` before the step, the aux states after the charge, ``h`` and the spike ``s`` (detached first when
  ``detach_reset``).
"""

from __future__ import annotations

from sj.codegen.ir import rename
from sj.codegen.torch_printer import TorchPrinter, compile_source
from sj.neuron.derived import neuron_program

_cache: dict[tuple, dict] = {}


def stage_fns(neuron: str, soft_reset: bool, detach_reset: bool) -> dict:
    """``{"charge": ..., "settle": ...}`` of declaration ``neuron`` for one reset mode (cached)."""
    key = (neuron, soft_reset, detach_reset)
    found = _cache.get(key)
    if found is not None:
        return found
    prog = neuron_program(neuron, soft_reset, detach_reset)
    pr = TorchPrinter()
    states, params = prog["states"], prog["params"]
    names = [n for n, _ in prog["forward"]]
    fire = names.index("z")
    before, after = prog["forward"][:fire], prog["forward"][fire + 2:]  # skip z and s
    # the name each aux state has once the pre updates ran (its last pre binding, or its own name)
    aux_now = {a: a for a in states[1:]}
    for n, _ in before:
        base = n.rsplit("_", 1)[0]
        if base in aux_now and n != "h":
            aux_now[base] = n
    aux_args = [aux_now[a] for a in states[1:]]
    mapping = {"s": "s_d"} if detach_reset else {}
    lines = [f"def charge(x, {', '.join([*states, *params])}):"]
    lines += [f"    {n} = {pr.expr(e)}" for n, e in before]
    lines.append(f"    return ({', '.join([*aux_args, 'h'])},)")
    lines.append(f"def settle(x, v, {', '.join([*aux_args, 'h', 's', *params])}):")
    lines.append("    s_d = s.detach()" if detach_reset else "    pass")
    lines += [f"    {n} = {pr.expr(rename(e, mapping))}" for n, e in after]
    outs = [pr.expr(rename(prog["forward_out"][n], mapping)) for n in states]
    lines.append(f"    return ({', '.join(outs)},)")
    fns = compile_source("\n".join(lines) + "\n", f"{neuron} stages")
    return _cache.setdefault(key, {"charge": fns["charge"], "settle": fns["settle"]})
