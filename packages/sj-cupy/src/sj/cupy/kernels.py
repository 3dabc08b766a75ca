"""Generate the CUDA C forward and backward-through-time kernels of one neuron × surrogate × reset configuration.

One thread owns ``vec`` consecutive neurons (one 16-byte access per tensor and step, or 1 neuron) and loops over
time; every state stays in registers. The step bodies are printed from sj-core's derived programs (``spec.program``,
``spec.surrogate_program``), so the kernels follow the same semantics as the ``torch`` reference backend:

- forward: ``h, z, s`` and the aux updates from ``program["forward"]``; new states from ``forward_out``; writes the
  spikes, optionally V after every step (``store_v_seq``) and, when saving for backward, H and the aux states
  (a 16-bit H is rounded so that backward recomputes the same spike: see ``sj_saved_h`` in :mod:`.cuda_types`).
- backward: walks ``t = T-1 … 0``; the previous V is recomputed from the previous saved H with ``program["reset"]``
  (the initial states at ``t = 0``), the step gradient comes from ``program["backward"]`` with the surrogate
  inlined, parameter gradients are accumulated per neuron over time (the contract's shape ``S``). An absent
  last-state gradient is a compile-time choice (``grad_last``): nothing is read for it, no zeros are made.
- work that depends only on parameters (and surrogate parameters) is done once per neuron before the loop, and
  divisions by such values become multiplications by a reciprocal computed there (:mod:`.hoist`); float kernels
  are compiled with ``-prec-div=false`` by :mod:`sj.cupy.compiler`, so the divisions left in the loop take the fast
  path.

Every IR symbol is printed with an ``r_`` prefix so user-chosen names never clash with C keywords or kernel locals.
Whether each parameter is 0-d or per neuron (shape ``S``) is a compile-time choice (``full``): a 0-d parameter, and
every loop-invariant value computed from 0-d parameters only, is one scalar per thread, not one register per owned
neuron. Arguments come in a fixed order — the tensors (:attr:`KernelSource.pointers`), then ``N`` and ``T``, then the
surrogate's parameters (constants of a configuration) — so a launcher packs per-call values and appends a prebuilt
tail (:mod:`sj.cupy.launch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from sj.codegen.c_printer import CPrinter
from sj.codegen.ir import inline_surrogate, program_reads, symbols_of

if TYPE_CHECKING:  # sj.ops imports the backend registry, which loads this plug-in: no runtime import here
    from sj.ops.spec import MultiStepSpec

from sj.cupy.cuda_types import VECS, CudaType, prelude
from sj.cupy.hoist import hoist

BLOCK = 256  # threads per block of every generated kernel


class CudaPrinter(CPrinter):
    """:class:`CPrinter` with prefixed symbols and the prelude's device-side ``sj_sign``."""

    def symbol(self, name: str) -> str:
        return "r_" + name

    def function_name(self, op: str) -> str:
        return "sj_sign" if op == "sign" else super().function_name(op)


@dataclass(frozen=True)
class KernelSource:
    """One generated kernel.

    ``body`` defines exactly one ``extern "C"`` kernel called ``name`` and relies on :attr:`prelude` (the
    storage/compute types), so bodies of the same ``(dtype, vec)`` can share one translation unit. ``args`` is the
    kernel signature as ``(name, kind)`` pairs; kind is ``"ptr"``, ``"i64"``, ``"i32"`` or ``"scalar"`` (the compute
    type); the ``"ptr"`` arguments come first.
    """

    name: str
    ctype: CudaType
    vec: int
    body: str
    args: tuple[tuple[str, str], ...]

    @property
    def prelude(self) -> str:
        return prelude(self.ctype, self.vec)

    @property
    def source(self) -> str:
        """The complete translation unit (prelude + body)."""
        return self.prelude + self.body

    @property
    def pointers(self) -> tuple[str, ...]:
        """The names of the tensor arguments, in order (they precede ``N``, ``T`` and the constants)."""
        return tuple(name for name, kind in self.args if kind == "ptr")


class _Writer:
    """Collects the lines of one kernel body and its argument list."""

    def __init__(self, ctype: CudaType, vec: int) -> None:
        self.pr = CudaPrinter(ctype.compute)
        self.vec = vec
        self.lines: list[str] = []
        self.ptrs: list[tuple[str, str]] = []  # (name, declaration); the pointers precede every other argument
        self.rest: list[tuple[str, str, str]] = [("N", "i64", "long long N"), ("T", "i32", "int T")]

    @property
    def args(self) -> list[tuple[str, str]]:
        return [(name, "ptr") for name, _ in self.ptrs] + [(name, kind) for name, kind, _ in self.rest]

    def arg(self, name: str, kind: str, const: bool = True) -> None:
        if kind == "ptr":
            self.ptrs.append((name, f"{'const ' if const else ''}st_t* __restrict__ {name}"))
        else:
            self.rest.append((name, kind, {"i64": "long long", "i32": "int", "scalar": "ct_t"}[kind] + " " + name))

    def __call__(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)

    def k_loop(self, depth: int) -> None:
        self("#pragma unroll", 0)
        self(f"for (int k = 0; k < {self.vec}; ++k) {{", depth)

    def bind(self, program: list, depth: int) -> None:
        for name, expr in program:
            self(f"const ct_t {self.pr.symbol(name)} = {self.pr.expr(expr)};", depth)

    def kernel(self, name: str) -> str:
        decls = [d for _, d in self.ptrs] + [d for _, _, d in self.rest]
        head = (f'extern "C" __global__ void __launch_bounds__({BLOCK}, SJ_MIN_BLOCKS) {name}(\n    '
                + ",\n    ".join(decls))
        return head + ")\n{\n" + "\n".join(self.lines) + "\n}\n"


def _check_reads(what: str, program: list, outputs: list, allowed: set[str]) -> None:
    free = program_reads(program, outputs) - allowed
    if free:
        raise ValueError(f"{what} reads symbols the cupy kernel does not provide: {sorted(free)} "
                         f"(provided: {sorted(allowed)}); sj-core's IR changed without sj-cupy")


def _load_params(w: _Writer, params: list[str], full: tuple[bool, ...], before_loop: list,
                 constants: list[str] = ()) -> list[str]:
    """Bind the parameters, the kernel's scalar ``constants`` and the ``before_loop`` bindings (loop-invariant work,
    :mod:`.hoist`) before the time loop: a 0-d parameter, a constant and a binding that reads only those are one
    ``r_<name>`` scalar; the others are ``pv_<name>[k]`` per owned neuron. Returns the per-neuron names, which the
    loop reads back with :func:`_param_consts`."""
    scalar = {p for p, f in zip(params, full) if not f} | set(constants)
    for p in params:
        if p in scalar:
            w(f"const ct_t {w.pr.symbol(p)} = sj_ld1(p_{p}[0]);")
    for c in constants:
        w(f"const ct_t {w.pr.symbol(c)} = {c};")
    per_neuron_bindings = []
    for name, expr in before_loop:
        if symbols_of(expr) <= scalar:
            w.bind([(name, expr)], 1)
            scalar.add(name)
        else:
            per_neuron_bindings.append((name, expr))
    names = [p for p in params if p not in scalar] + [name for name, _ in per_neuron_bindings]
    if not names:
        return names
    for name in names:
        w(f"ct_t pv_{name}[{w.vec}];")
    w.k_loop(1)
    for p in params:
        if p not in scalar:
            w(f"const ct_t {w.pr.symbol(p)} = sj_ld1(p_{p}[i0 + k]);", 2)
    w.bind(per_neuron_bindings, 2)
    for name in names:
        w(f"pv_{name}[k] = {w.pr.symbol(name)};", 2)
    w("}")
    return names


def _param_consts(w: _Writer, names: list[str], depth: int) -> None:
    for name in names:
        w(f"const ct_t {w.pr.symbol(name)} = pv_{name}[k];", depth)


def _full(params: list[str], full: tuple[bool, ...] | None) -> tuple[bool, ...]:
    full = tuple(full) if full is not None else (False,) * len(params)
    if len(full) != len(params):
        raise ValueError(f"full has {len(full)} entries for params {params}")
    return full


def _mask(flags: tuple[bool, ...]) -> str:
    return "".join("1" if f else "0" for f in flags)


def _prologue(w: _Writer) -> None:
    w(f"const long long i0 = ((long long)blockIdx.x * {BLOCK} + threadIdx.x) * {w.vec};")
    w("if (i0 >= N) return;")


def _name(kind: str, spec: MultiStepSpec, ctype: CudaType, vec: int, extra: str) -> str:
    reset = ("soft" if spec.soft_reset else "hard") + ("_detach" if spec.detach_reset else "")
    return f"sj_{kind}_{spec.neuron}_{spec.decl.content_hash}_{reset}_{ctype.name}_v{vec}{extra}"


@lru_cache(maxsize=512)
def forward_kernel(spec: MultiStepSpec, ctype: CudaType, vec: int, save: bool,
                   full: tuple[bool, ...] | None = None) -> KernelSource:
    """The forward kernel: ``x_seq`` + initial states + params → spikes, last states, [V seq], [H + aux seqs].
    ``full``: per parameter, whether it is per neuron (``None``: all are 0-d)."""
    if vec not in VECS:
        raise ValueError(f"vec must be one of {VECS}, got {vec}")
    prog = spec.program
    states, params = list(prog["states"]), list(prog["params"])
    full = _full(params, full)
    _check_reads(f"forward of {spec.neuron!r}", prog["forward"], list(prog["forward_out"].values()),
                 {"x", *states, *params})
    outs = [prog["forward_out"]["s"], *(prog["forward_out"][s] for s in states)]
    before, loop, (out_s, *out_states) = hoist(prog["forward"], outs, set(params))
    w = _Writer(ctype, vec)
    w.arg("x_seq", "ptr")
    for s in states:
        w.arg(f"init_{s}", "ptr")
    for p in params:
        w.arg(f"p_{p}", "ptr")
    w.arg("spike_seq", "ptr", const=False)
    for s in states:
        w.arg(f"last_{s}", "ptr", const=False)
    if spec.store_v_seq:
        w.arg("v_seq", "ptr", const=False)
    if save:
        w.arg("saved_h", "ptr", const=False)
        for s in states[1:]:
            w.arg(f"saved_{s}", "ptr", const=False)

    _prologue(w)
    consts = _load_params(w, params, full, before)
    for s in states:
        w(f"ct_t sv_{s}[{vec}];")
        w(f"sj_load(init_{s}, i0, sv_{s});")
    w("for (int t = 0; t < T; ++t) {")
    w("const long long o = (long long)t * N + i0;", 2)
    w(f"ct_t in_x[{vec}], out_s[{vec}], out_h[{vec}];", 2)
    w("sj_load(x_seq, o, in_x);", 2)
    w.k_loop(2)
    w(f"const ct_t {w.pr.symbol('x')} = in_x[k];", 3)
    for s in states:
        w(f"const ct_t {w.pr.symbol(s)} = sv_{s}[k];", 3)
    _param_consts(w, consts, 3)
    w.bind(loop, 3)
    w(f"out_s[k] = {w.pr.expr(out_s)};", 3)
    w(f"out_h[k] = sj_saved_h({w.pr.symbol('h')}, {w.pr.symbol('v_threshold')}, {w.pr.symbol('s')});", 3)
    for s, e in zip(states, out_states):
        w(f"sv_{s}[k] = {w.pr.expr(e)};", 3)
    w("}", 2)
    w("sj_store(spike_seq, o, out_s);", 2)
    if spec.store_v_seq:
        w("sj_store(v_seq, o, sv_v);", 2)
    if save:
        w("sj_store(saved_h, o, out_h);", 2)
        for s in states[1:]:
            w(f"sj_store(saved_{s}, o, sv_{s});", 2)
    w("}")
    for s in states:
        w(f"sj_store(last_{s}, i0, sv_{s});")
    extra = ("_vseq" if spec.store_v_seq else "") + ("_save" if save else "") + f"_p{_mask(full)}"
    name = _name("fwd", spec, ctype, vec, extra)
    return KernelSource(name, ctype, vec, w.kernel(name), tuple(w.args))


@lru_cache(maxsize=1024)
def backward_kernel(spec: MultiStepSpec, ctype: CudaType, vec: int, grad_v_seq: bool,
                    params_need_grad: tuple[bool, ...], grad_last: tuple[bool, ...] | None = None,
                    full: tuple[bool, ...] | None = None) -> KernelSource:
    """The backward-through-time kernel: saved H/aux seqs + inputs + incoming grads → grad x, grad initial states
    and, for each parameter in ``params_need_grad``, its per-neuron gradient summed over time. ``grad_last``: per
    state, whether its last value has an incoming gradient (``None``: all have); ``full``: per parameter, whether it
    is per neuron (``None``: all are 0-d)."""
    if vec not in VECS:
        raise ValueError(f"vec must be one of {VECS}, got {vec}")
    prog, sprog = spec.program, spec.surrogate_program
    states, params, sparams = list(prog["states"]), list(prog["params"]), list(sprog["params"])
    if len(params_need_grad) != len(params):
        raise ValueError(f"params_need_grad has {len(params_need_grad)} entries for params {params}")
    full = _full(params, full)
    grad_last = tuple(grad_last) if grad_last is not None else (True,) * len(states)
    if len(grad_last) != len(states):
        raise ValueError(f"grad_last has {len(grad_last)} entries for states {states}")
    needs_x = bool(prog["needs_x"])
    body = inline_surrogate(prog["backward"], sprog)
    provided = {"h", *states, *params, *sparams, "grad_s", *(f"grad_{s}" for s in states)} | ({"x"} if needs_x
                                                                                               else set())
    _check_reads(f"backward of {spec.neuron!r} with {spec.surrogate}", body,
                 [prog["backward_out"][n] for n in ["x", *states, *params]], provided)
    _check_reads(f"reset of {spec.neuron!r}", [], [prog["reset"]], {"h", "s", *params})
    grads = [p for p, need in zip(params, params_need_grad) if need]
    out = prog["backward_out"]
    outs = [out["x"], *(out[s] for s in states), *(out[p] for p in grads)]
    before, loop, (out_x, *rest) = hoist(body, outs, {*params, *sparams})
    out_states, out_params = rest[:len(states)], rest[len(states):]

    w = _Writer(ctype, vec)
    w.arg("saved_h", "ptr")
    for s in states[1:]:
        w.arg(f"saved_{s}", "ptr")
    if needs_x:
        w.arg("x_seq", "ptr")
    for s in states:
        w.arg(f"init_{s}", "ptr")
    for p in params:
        w.arg(f"p_{p}", "ptr")
    w.arg("grad_spike", "ptr")
    for s, has in zip(states, grad_last):
        if has:
            w.arg(f"grad_last_{s}", "ptr")
    if grad_v_seq:
        w.arg("grad_v_seq", "ptr")
    w.arg("grad_x", "ptr", const=False)
    for s in states:
        w.arg(f"grad_init_{s}", "ptr", const=False)
    for p in grads:
        w.arg(f"grad_p_{p}", "ptr", const=False)
    for sp in sparams:
        w.arg(sp, "scalar")

    _prologue(w)
    consts = _load_params(w, params, full, before, sparams)
    for s, has in zip(states, grad_last):
        w(f"ct_t gs_{s}[{vec}]" + (";" if has else " = {};"))
        if has:
            w(f"sj_load(grad_last_{s}, i0, gs_{s});")
    for p in grads:
        w(f"ct_t acc_{p}[{vec}] = {{}};")
    w(f"ct_t hc[{vec}];")
    w("sj_load(saved_h, (long long)(T - 1) * N + i0, hc);")
    w("for (int t = T - 1; t >= 0; --t) {")
    w("const long long o = (long long)t * N + i0;", 2)
    w(f"ct_t hp[{vec}] = {{}}, {', '.join(f'pr_{s}[{vec}]' for s in states)};", 2)
    w("if (t > 0) {", 2)
    w("sj_load(saved_h, o - N, hp);", 3)
    for s in states[1:]:
        w(f"sj_load(saved_{s}, o - N, pr_{s});", 3)
    w.k_loop(3)
    w(f"const ct_t {w.pr.symbol('h')} = hp[k];", 4)
    _param_consts(w, consts, 4)
    w(f"const ct_t {w.pr.symbol('z')} = {w.pr.symbol('h')} - {w.pr.symbol('v_threshold')};", 4)
    w(f"const ct_t {w.pr.symbol('s')} = {w.pr.heaviside(w.pr.symbol('z'))};", 4)
    w(f"pr_v[k] = {w.pr.expr(prog['reset'])};", 4)
    w("}", 3)
    w("} else {", 2)
    for s in states:
        w(f"sj_load(init_{s}, i0, pr_{s});", 3)
    w("}", 2)
    if needs_x:
        w(f"ct_t in_x[{vec}];", 2)
        w("sj_load(x_seq, o, in_x);", 2)
    w(f"ct_t in_gs[{vec}], out_gx[{vec}];", 2)
    w("sj_load(grad_spike, o, in_gs);", 2)
    if grad_v_seq:
        w(f"ct_t in_gv[{vec}];", 2)
        w("sj_load(grad_v_seq, o, in_gv);", 2)
    w.k_loop(2)
    w(f"const ct_t {w.pr.symbol('h')} = hc[k];", 3)
    if needs_x:
        w(f"const ct_t {w.pr.symbol('x')} = in_x[k];", 3)
    for s in states:
        w(f"const ct_t {w.pr.symbol(s)} = pr_{s}[k];", 3)
    _param_consts(w, consts, 3)
    w(f"const ct_t {w.pr.symbol('grad_s')} = in_gs[k];", 3)
    for s in states:
        extra = " + in_gv[k]" if (grad_v_seq and s == "v") else ""
        w(f"const ct_t {w.pr.symbol('grad_' + s)} = gs_{s}[k]{extra};", 3)
    w.bind(loop, 3)
    w(f"out_gx[k] = {w.pr.expr(out_x)};", 3)
    for s, e in zip(states, out_states):
        w(f"gs_{s}[k] = {w.pr.expr(e)};", 3)
    for p, e in zip(grads, out_params):
        w(f"acc_{p}[k] += {w.pr.expr(e)};", 3)
    w("hc[k] = hp[k];", 3)
    w("}", 2)
    w("sj_store(grad_x, o, out_gx);", 2)
    w("}")
    for s in states:
        w(f"sj_store(grad_init_{s}, i0, gs_{s});")
    for p in grads:
        w(f"sj_store(grad_p_{p}, i0, acc_{p});")
    last = "" if all(grad_last) else f"_l{_mask(grad_last)}"
    extra = (f"_{spec.surrogate}" + ("_gvseq" if grad_v_seq else "")
             + f"_g{_mask(params_need_grad)}{last}_p{_mask(full)}")
    name = _name("bwd", spec, ctype, vec, extra)
    return KernelSource(name, ctype, vec, w.kernel(name), tuple(w.args))
