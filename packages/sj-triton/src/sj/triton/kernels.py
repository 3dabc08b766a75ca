"""Generate the Triton source of a neuron's forward and backward-through-time kernels from its derived programs.

One program instance handles ``BLOCK`` neurons and loops over ``T`` inside the kernel with ``for _ in range(T)``
(``T`` is a runtime argument: the loop is a real loop, compile time does not grow with ``T``). Loads convert to the
compute dtype ``CDT`` (fp32 for fp16/bf16/fp32 tensors, fp64 for float64); stores convert back to the tensor's dtype.

Kernel variants are ``tl.constexpr`` flags of one source:

- ``FULL_<p>``: parameter ``p`` is a per-neuron tensor of shape ``S`` (else a 0-d tensor);
- forward ``SAVE``: write ``h`` and the auxiliary states of every step for backward (``False``: the inference kernel,
  which writes only spikes, the optional ``v`` sequence and the last states), ``STORE_V``: write ``v`` every step;
- backward ``GRAD_<p>``: accumulate parameter ``p``'s per-neuron gradient over time in registers (one write per
  neuron at the end: deterministic, no atomics), ``HAS_GV``: add the incoming gradient of the ``v`` sequence,
  ``HAS_GLAST_<s>``: read the incoming gradient of the last state ``s`` (``False``: it is zero, and nothing is read —
  no ``[*S]`` zeros are made for the usual case of a last state nothing used).

Surrogate parameters are scalar arguments (``arg_<name>``, in the compute dtype): changing them recompiles nothing,
and a launch needs no device tensor for them. Every kernel takes its runtime arguments first (pointers, then ``T``,
``N``, ``LAST``, then the scalars) and its ``tl.constexpr`` flags last, so a launcher appends one prebuilt tuple of
flag values to the per-call pointers (:mod:`sj.triton.launch`).

The forward rounds ``h`` and the new auxiliary states through the storage dtype before using them (a no-op for
fp32/fp64): backward reads them back from fp16/bf16 tensors and recomputes the spike and the reset from them, so
the forward must fire on exactly those values, or a spike decided by the rounding would get a reset the forward
never applied.

Pointers advance by ``N`` (the neuron count) each step, so offsets never multiply ``t·N`` in 32-bit arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from sj.codegen.ir import Expr, inline_surrogate, symbols_of
from sj.triton.printer import TritonPrinter

I1, I2, I3 = "    ", "        ", "            "


PTR, I32, I64, FLOAT, CONSTEXPR = "ptr", "i32", "i64", "float", "constexpr"


@dataclass(frozen=True)
class KernelSignature:
    """The generated kernels' arguments, in order, as ``(name, kind)`` pairs; ``kind`` is ``"ptr"`` (a tensor of
    the storage dtype), ``"i32"``, ``"i64"``, ``"float"`` (a scalar of the compute dtype) or ``"constexpr"``."""

    states: tuple[str, ...]
    params: tuple[str, ...]
    surrogate_params: tuple[str, ...]
    needs_x: bool

    @property
    def aux(self) -> tuple[str, ...]:
        return self.states[1:]

    def forward_args(self) -> tuple[tuple[str, str], ...]:
        ptrs = ["x_ptr", *(f"init_{s}" for s in self.states), *(f"par_{p}" for p in self.params),
                "spike_ptr", "vseq_ptr", "hseq_ptr", *(f"seq_{a}" for a in self.aux),
                *(f"last_{s}" for s in self.states)]
        flags = [*(f"FULL_{p}" for p in self.params), "SAVE", "STORE_V", "CDT", "BLOCK"]
        return (*((a, PTR) for a in ptrs), ("T", I32), ("N", I32), *((f, CONSTEXPR) for f in flags))

    def backward_args(self) -> tuple[tuple[str, str], ...]:
        ptrs = ["hseq_ptr", *(f"seq_{a}" for a in self.aux), "x_ptr", *(f"init_{s}" for s in self.states),
                *(f"par_{p}" for p in self.params), "gs_ptr", "gv_ptr", *(f"glast_{s}" for s in self.states),
                "gx_ptr", *(f"ginit_{s}" for s in self.states), *(f"gpar_{p}" for p in self.params)]
        flags = [*(f"FULL_{p}" for p in self.params), *(f"GRAD_{p}" for p in self.params),
                 *(f"HAS_GLAST_{s}" for s in self.states), "HAS_GV", "CDT", "BLOCK"]
        return (*((a, PTR) for a in ptrs), ("T", I32), ("N", I32), ("LAST", I64),
                *((f"arg_{sp}", FLOAT) for sp in self.surrogate_params), *((f, CONSTEXPR) for f in flags))


def signature(program: dict, surrogate_program: dict) -> KernelSignature:
    """The argument layout of the kernels of a neuron program and a surrogate program."""
    return KernelSignature(tuple(program["states"]), tuple(program["params"]), tuple(surrogate_program["params"]),
                           bool(program["needs_x"]))


def _def(name: str, args: tuple[tuple[str, str], ...]) -> str:
    return f"def {name}(" + ", ".join(f"{a}: tl.constexpr" if k == CONSTEXPR else a for a, k in args) + "):"


def _load(ptr: str) -> str:
    return f"tl.load({ptr}, mask=mask, other=0.0).to(CDT)"


def _param_loads(sig: KernelSignature, pr: TritonPrinter) -> list[str]:
    out = []
    for p in sig.params:
        out += [f"{I1}if FULL_{p}:",
                f"{I2}{pr.symbol(p)} = tl.load(par_{p} + offs, mask=mask, other=1.0).to(CDT)",
                f"{I1}else:",
                f"{I2}{pr.symbol(p)} = tl.load(par_{p}).to(CDT) + ZERO"]
    return out


def _storage_round(name: str) -> str:
    """Round a compute-dtype value through the tensors' storage dtype (a no-op for fp32 and fp64)."""
    return f"{name}.to(x_ptr.dtype.element_ty).to(CDT)"


def _block(expr: Expr, pr: TritonPrinter, block_names: set[str]) -> str:
    """Print ``expr``; if it reads no per-neuron value (a literal, or surrogate parameters only) broadcast it."""
    text = pr.expr(expr)
    return text if symbols_of(expr) & block_names else f"(({text}) + ZERO)"


def _prologue(args: tuple[tuple[str, str], ...], name: str) -> list[str]:
    return [_def(name, args),
            f"{I1}offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)",
            f"{I1}mask = offs < N",
            f"{I1}ZERO = tl.zeros([BLOCK], CDT)"]


def forward_source(program: dict, sig: KernelSignature) -> list[str]:
    """Source lines of the Triton forward kernel of ``program`` (one program instance per block of neurons,
    a loop over T)."""
    pr = TritonPrinter()
    lines = _prologue(sig.forward_args(), "forward_kernel")
    lines += _param_loads(sig, pr)
    lines += [f"{I1}{pr.symbol(s)} = {_load(f'init_{s} + offs')}" for s in sig.states]
    lines += [f"{I1}x_p = x_ptr + offs", f"{I1}spike_p = spike_ptr + offs", f"{I1}vseq_p = vseq_ptr + offs",
              f"{I1}hseq_p = hseq_ptr + offs", *(f"{I1}seq_{a}_p = seq_{a} + offs" for a in sig.aux)]
    lines.append(f"{I1}for _ in range(T):")
    lines.append(f"{I2}{pr.symbol('x')} = {_load('x_p')}")
    for name, expr in program["forward"]:
        lines += pr.bindings([[name, expr]], I2)
        if name == "h":  # fire on the h that backward will read back (see module docstring)
            lines.append(f"{I2}{pr.symbol('h')} = {_storage_round(pr.symbol('h'))}")
    block = {"x", *sig.states, *sig.params, *(n for n, _ in program["forward"])}
    new = {s: f"new_{s}" for s in sig.states}
    lines += [f"{I2}{new[s]} = {_block(program['forward_out'][s], pr, block)}" for s in sig.states]
    lines += [f"{I2}{new[a]} = {_storage_round(new[a])}" for a in sig.aux]
    lines.append(f"{I2}tl.store(spike_p, {_block(program['forward_out']['s'], pr, block)}, mask=mask)")
    lines += [f"{I2}if STORE_V:", f"{I3}tl.store(vseq_p, {new['v']}, mask=mask)", f"{I3}vseq_p += N",
              f"{I2}if SAVE:", f"{I3}tl.store(hseq_p, {pr.symbol('h')}, mask=mask)", f"{I3}hseq_p += N"]
    for a in sig.aux:
        lines += [f"{I3}tl.store(seq_{a}_p, {new[a]}, mask=mask)", f"{I3}seq_{a}_p += N"]
    lines += [f"{I2}{pr.symbol(s)} = {new[s]}" for s in sig.states]
    lines += [f"{I2}x_p += N", f"{I2}spike_p += N"]
    lines += [f"{I1}tl.store(last_{s} + offs, {pr.symbol(s)}, mask=mask)" for s in sig.states]
    return lines


def backward_source(program: dict, surrogate_program: dict, sig: KernelSignature) -> list[str]:
    """Source lines of the Triton backward kernel (reverse loop over T, the surrogate's derivative for the spike)."""
    pr = TritonPrinter()
    prev = TritonPrinter(rename={"h": "prev_h", "s": "prev_s"})
    lines = _prologue(sig.backward_args(), "backward_kernel")
    lines += _param_loads(sig, pr)
    # ZERO + scalar: the compute dtype whether the scalar is typed (compiled) or a Python float (interpreter)
    lines += [f"{I1}{pr.symbol(p)} = ZERO + arg_{p}" for p in sig.surrogate_params]
    lines += [f"{I1}init_{s}_v = {_load(f'init_{s} + offs')}" for s in sig.states]
    for s in sig.states:  # an absent last-state gradient is zero: nothing is read
        lines += [f"{I1}if HAS_GLAST_{s}:", f"{I2}{pr.symbol('grad_' + s)} = {_load(f'glast_{s} + offs')}",
                  f"{I1}else:", f"{I2}{pr.symbol('grad_' + s)} = ZERO"]
    lines += [f"{I1}acc_{p} = ZERO" for p in sig.params]
    lines += [f"{I1}hseq_p = hseq_ptr + LAST + offs", *(f"{I1}seq_{a}_p = seq_{a} + LAST + offs" for a in sig.aux),
              f"{I1}x_p = x_ptr + LAST + offs", f"{I1}gs_p = gs_ptr + LAST + offs", f"{I1}gv_p = gv_ptr + LAST + offs",
              f"{I1}gx_p = gx_ptr + LAST + offs", f"{I1}{pr.symbol('h')} = {_load('hseq_p')}"]
    lines.append(f"{I1}for i in range(T):")
    # previous states: the initial ones at t = 0, else v recomputed from the previous h and the saved aux states
    # (at t = 0 the "previous" loads re-read step 0, in bounds, and are discarded by the where)
    lines += [f"{I2}has_prev = i < T - 1", f"{I2}back = tl.where(has_prev, N, 0)",
              f"{I2}prev_h = {_load('hseq_p - back')}",
              f"{I2}prev_s = ((prev_h - {pr.symbol('v_threshold')}) >= 0).to(CDT)",
              f"{I2}{pr.symbol('v')} = tl.where(has_prev, {prev.expr(program['reset'])}, init_v_v)"]
    lines += [f"{I2}{pr.symbol(a)} = tl.where(has_prev, {_load(f'seq_{a}_p - back')}, init_{a}_v)"
              for a in sig.aux]
    if sig.needs_x:
        lines.append(f"{I2}{pr.symbol('x')} = {_load('x_p')}")
    lines += [f"{I2}{pr.symbol('grad_s')} = {_load('gs_p')}",
              f"{I2}if HAS_GV:", f"{I3}{pr.symbol('grad_v')} = {pr.symbol('grad_v')} + {_load('gv_p')}"]
    body = inline_surrogate(program["backward"], surrogate_program)
    lines += pr.bindings(body, I2)
    block = {"h", "x", "grad_s", *sig.states, *sig.params, *(f"grad_{s}" for s in sig.states), *(n for n, _ in body)}
    out = program["backward_out"]
    lines.append(f"{I2}tl.store(gx_p, {_block(out['x'], pr, block)}, mask=mask)")
    lines += [f"{I2}next_grad_{s} = {_block(out[s], pr, block)}" for s in sig.states]
    for p in sig.params:
        lines += [f"{I2}if GRAD_{p}:", f"{I3}acc_{p} += {_block(out[p], pr, block)}"]
    lines += [f"{I2}{pr.symbol('grad_' + s)} = next_grad_{s}" for s in sig.states]
    lines.append(f"{I2}{pr.symbol('h')} = prev_h")
    lines += [f"{I2}{p}_p -= N" for p in ("hseq", *(f"seq_{a}" for a in sig.aux), "x", "gs", "gv", "gx")]
    lines += [f"{I1}tl.store(ginit_{s} + offs, {pr.symbol('grad_' + s)}, mask=mask)" for s in sig.states]
    for p in sig.params:
        lines += [f"{I1}if GRAD_{p}:", f"{I2}tl.store(gpar_{p} + offs, acc_{p}, mask=mask)"]
    return lines


def module_source(program: dict, surrogate_program: dict, implementation_hash: str) -> str:
    """The complete source of the generated module (``forward_kernel`` and ``backward_kernel``, undecorated: the
    loader applies ``triton.jit``; :mod:`sj.triton.specialize` compiles its variants)."""
    sig = signature(program, surrogate_program)
    header = [f"# sj-triton generated kernels for neuron {program.get('neuron', '?')!r} "
              f"(reset {'soft' if program.get('soft_reset') else 'hard'}, detach {program.get('detach_reset')}) "
              f"and surrogate {surrogate_program.get('surrogate', '?')!r}",
              f"# implementation {implementation_hash}; sj_atan/sj_tanh are bound by the loader (sj.triton.tlmath)",
              "import triton.language as tl", ""]
    body = [*forward_source(program, sig), "", *backward_source(program, surrogate_program, sig)]
    return "\n".join(header + body) + "\n"
