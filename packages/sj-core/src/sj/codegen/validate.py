"""Validate derived programs (:mod:`sj.codegen.ir`) before any printer turns them into code.

Derived programs are read from files (sj-core's shipped ``derived_builtin.json`` and the user cache
``$SJ_CACHE_DIR/derived``), printed into Python, C, CUDA or Triton and then executed or compiled. A program is accepted
only when it has exactly the form :mod:`sj.neuron.derive` produces for its declaration:

- its header matches the key it was looked up by (neuron or surrogate name, declaration hash, reset mode) and its
  ``states`` / ``params`` are the declaration's;
- every binding name is one the derivation creates (``h``, ``z``, ``s``, ``sg``, ``cse<n>``, ``sgc<n>``,
  ``<aux state>_<n>``), and every symbol an expression reads is an input of that program or bound before it;
- every operator is one of the IR's, with its number of operands (``surrogate`` only as a whole backward binding);
  every number is an ``int`` or a ``float``; expressions nest at most :data:`MAX_DEPTH` deep;
- ``needs_x`` says truly whether the backward reads ``x`` (kernels are given no ``x`` otherwise).

So whatever a file holds, printed code can only be arithmetic over the program's own names.
"""

from __future__ import annotations

import re

from sj.codegen.ir import BINARY, NARY, UNARY, program_reads

MAX_DEPTH = 200  # the built-in derivations nest at most 8 deep; printers recurse once per level
_ARITY = {**dict.fromkeys(UNARY, (1, 1)), **dict.fromkeys(BINARY, (2, 2)), **dict.fromkeys(NARY, (1, None)),
          "where": (3, 3)}
_CSE, _SGC = re.compile(r"cse\d+"), re.compile(r"sgc\d+")  # the derivation's temporaries
_INT_LIMIT = 2**53  # an int literal a float holds exactly


class InvalidProgram(ValueError):
    """A derived program that does not have the form :mod:`sj.neuron.derive` produces."""


def is_symbol(name: object) -> bool:
    """A name a printer may print as it is: an identifier (nothing else can reach generated code)."""
    return isinstance(name, str) and name.isidentifier()


def check_expr(expr: object, readable: set[str] | frozenset[str], where: str, surrogate_ok: bool = False) -> None:
    """Raise :class:`InvalidProgram` unless ``expr`` is an IR expression reading only ``readable`` names."""
    stack = [(expr, 1, surrogate_ok)]
    while stack:
        e, depth, top = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidProgram(f"{where}: expression nested deeper than {MAX_DEPTH}")
        if isinstance(e, bool) or e is None:
            raise InvalidProgram(f"{where}: {e!r} is not an expression")
        if isinstance(e, int):
            if abs(e) > _INT_LIMIT:
                raise InvalidProgram(f"{where}: integer {e} out of range")
            continue
        if isinstance(e, float):
            continue
        if isinstance(e, str):
            if e not in readable:
                raise InvalidProgram(f"{where}: reads {e[:40]!r}, which is neither an input nor bound before")
            continue
        if not isinstance(e, list) or not e or not isinstance(e[0], str):
            raise InvalidProgram(f"{where}: {type(e).__name__} is not an expression")
        op, args = e[0], e[1:]
        if op not in _ARITY:
            raise InvalidProgram(f"{where}: unknown operator {op[:40]!r}")
        lo, hi = _ARITY[op]
        if len(args) < lo or (hi is not None and len(args) > hi):
            raise InvalidProgram(f"{where}: operator {op!r} with {len(args)} operands")
        if op == "surrogate" and not top:
            raise InvalidProgram(f"{where}: 'surrogate' inside an expression (only a whole backward binding)")
        stack.extend((a, depth + 1, False) for a in args)


def check_bindings(program: object, inputs: set[str], bindable, where: str, surrogate_ok: bool = False) -> set[str]:
    """Check a list of ``[name, expr]`` bindings (``bindable(name)``: a name this program may bind); return every name
    readable after it (inputs and bound names)."""
    if not isinstance(program, list):
        raise InvalidProgram(f"{where}: not a list of bindings")
    readable = set(inputs)
    for i, binding in enumerate(program):
        if not (isinstance(binding, list) and len(binding) == 2):
            raise InvalidProgram(f"{where}[{i}]: not a [name, expression] pair")
        name, expr = binding
        if not is_symbol(name) or not bindable(name):
            raise InvalidProgram(f"{where}[{i}]: {str(name)[:40]!r} is not a name the derivation binds")
        check_expr(expr, readable, f"{where}[{i}] ({name})", surrogate_ok)
        readable.add(name)
    return readable


def _check_header(prog: object, expected: dict, keys: set[str]) -> dict:
    if not isinstance(prog, dict):
        raise InvalidProgram(f"a derived program is a JSON object, got {type(prog).__name__}")
    if set(prog) != keys:
        raise InvalidProgram(f"fields {sorted(prog)[:20]} are not {sorted(keys)}")
    for k, want in expected.items():
        if prog[k] != want or type(prog[k]) is not type(want):
            raise InvalidProgram(f"{k} is {str(prog[k])[:60]!r}, expected {want!r} (the key it was stored under)")
    if not isinstance(prog["version"], int) or isinstance(prog["version"], bool):
        raise InvalidProgram("version is not an integer")
    return prog


def _check_outputs(outputs: object, names: list[str], readable: set[str], where: str) -> None:
    if not isinstance(outputs, dict) or sorted(outputs) != sorted(names):
        raise InvalidProgram(f"{where}: outputs must be exactly {sorted(names)}")
    for k, e in outputs.items():
        check_expr(e, readable, f"{where}[{k}]")


NEURON_KEYS = {"version", "neuron", "hash", "soft_reset", "detach_reset", "states", "params", "forward", "forward_out",
               "reset", "backward", "backward_out", "needs_x"}
SURROGATE_KEYS = {"version", "surrogate", "hash", "params", "derivative", "derivative_out", "primitive"}


def check_neuron_program(prog: object, decl, soft_reset: bool, detach_reset: bool) -> dict:
    """``prog`` if it is the derived program of neuron declaration ``decl`` in this reset mode (in form: see the
    module docstring), else raise :class:`InvalidProgram`."""
    states, params = list(decl.state_names), list(decl.param_names)
    _check_header(prog, {"neuron": decl.name, "hash": decl.content_hash, "soft_reset": soft_reset,
                         "detach_reset": detach_reset, "states": states, "params": params}, NEURON_KEYS)
    aux = re.compile(rf"({'|'.join(map(re.escape, decl.aux_states))})_\d+") if decl.aux_states else None
    inputs = {"x", *states, *params}
    fwd = check_bindings(prog["forward"], inputs,
                         lambda n: n in ("h", "z", "s") or (aux is not None and aux.fullmatch(n) is not None),
                         "forward")
    if not {"h", "z", "s"} <= fwd:
        raise InvalidProgram("forward does not bind h, z and s")
    _check_outputs(prog["forward_out"], ["s", *states], fwd, "forward_out")
    check_expr(prog["reset"], {"h", "s", *params}, "reset")
    grads = {"grad_s", *(f"grad_{n}" for n in states)}
    bwd = check_bindings(prog["backward"], {"h", "x", *states, *params, *grads},
                         lambda n: n in ("z", "s", "sg") or _CSE.fullmatch(n) is not None,
                         "backward", surrogate_ok=True)
    _check_outputs(prog["backward_out"], ["x", *states, *params], bwd, "backward_out")
    if not isinstance(prog["needs_x"], bool):
        raise InvalidProgram("needs_x is not true or false")
    reads_x = "x" in program_reads(prog["backward"], list(prog["backward_out"].values()))
    if reads_x != prog["needs_x"]:
        raise InvalidProgram(f"needs_x is {prog['needs_x']} but the backward {'reads' if reads_x else 'never reads'} x")
    return prog


def check_surrogate_program(prog: object, decl) -> dict:
    """``prog`` if it is the derived program of surrogate declaration ``decl``, else raise :class:`InvalidProgram`."""
    params = [f"sp_{p}" for p in decl.params]
    _check_header(prog, {"surrogate": decl.name, "hash": decl.content_hash, "params": params}, SURROGATE_KEYS)
    readable = check_bindings(prog["derivative"], {"z", *params},
                              lambda n: _SGC.fullmatch(n) is not None, "derivative")
    check_expr(prog["derivative_out"], readable, "derivative_out")
    if prog["primitive"] is not None:
        check_expr(prog["primitive"], {"z", *params}, "primitive")
    return prog
