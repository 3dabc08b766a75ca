"""Generate the CUDA C forward and backward-through-time kernels of one neuron × surrogate × reset configuration.

One thread owns ``vec`` consecutive neurons and loops over time; every state stays in registers. The step bodies are
printed from sj-core's derived programs (``spec.program``, ``spec.surrogate_program``), so the kernels follow the
same semantics as the ``torch`` reference backend:

- forward: ``h, z, s`` and the aux updates from ``program["forward"]``; new states from ``forward_out``; writes the
  spikes, optionally V after every step (``store_v_seq``) and, when saving for backward, H and the aux states
  (a 16-bit H is rounded so that backward recomputes the same spike: see ``sj_saved_h`` in :mod:`.cuda_types`).
- backward: walks ``t = T-1 … 0``; the previous V is recomputed from the previous saved H with ``program["reset"]``
  (the initial states at ``t = 0``), the step gradient comes from ``program["backward"]`` with the surrogate
  inlined, parameter gradients are accumulated per neuron over time (the contract's shape ``S``).

Every IR symbol is printed with an ``r_`` prefix so user-chosen names never clash with C keywords or kernel locals.
A :class:`KernelSource` is self-describing: its ``args`` list tells the launcher what to pass, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from sj.codegen.c_printer import CPrinter
from sj.codegen.ir import inline_surrogate, program_reads

if TYPE_CHECKING:  # sj.ops imports the backend registry, which loads this plug-in: no runtime import here
    from sj.ops.spec import MultiStepSpec

from sj.cupy.cuda_types import VECS, CudaType, prelude

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
    type).
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


class _Writer:
    """Collects the lines of one kernel body and its argument list."""

    def __init__(self, ctype: CudaType, vec: int) -> None:
        self.pr = CudaPrinter(ctype.compute)
        self.vec = vec
        self.lines: list[str] = []
        self.args: list[tuple[str, str]] = []
        self.decls: list[str] = []

    def arg(self, name: str, kind: str, const: bool = True) -> None:
        self.args.append((name, kind))
        if kind == "ptr":
            self.decls.append(f"{'const ' if const else ''}st_t* __restrict__ {name}")
        else:
            self.decls.append({"i64": "long long", "i32": "int", "scalar": "ct_t"}[kind] + " " + name)

    def __call__(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)

    def k_loop(self, depth: int) -> None:
        self("#pragma unroll", 0)
        self(f"for (int k = 0; k < {self.vec}; ++k) {{", depth)

    def bind(self, program: list, depth: int) -> None:
        for name, expr in program:
            self(f"const ct_t {self.pr.symbol(name)} = {self.pr.expr(expr)};", depth)

    def kernel(self, name: str) -> str:
        head = f'extern "C" __global__ void __launch_bounds__({BLOCK}) {name}(\n    ' + ",\n    ".join(self.decls)
        return head + ")\n{\n" + "\n".join(self.lines) + "\n}\n"


def _check_reads(what: str, program: list, outputs: list, allowed: set[str]) -> None:
    free = program_reads(program, outputs) - allowed
    if free:
        raise ValueError(f"{what} reads symbols the cupy kernel does not provide: {sorted(free)} "
                         f"(provided: {sorted(allowed)}); sj-core's IR changed without sj-cupy")


def _load_params(w: _Writer, params: list[str]) -> None:
    """``pv_<p>[k]``: each parameter per owned neuron (``ps_<p>`` is 0 for a 0-d parameter, 1 for a full-S one)."""
    for p in params:
        w(f"ct_t pv_{p}[{w.vec}];")
    w.k_loop(1)
    for p in params:
        w(f"pv_{p}[k] = sj_ld1(p_{p}[(i0 + k) * ps_{p}]);", 2)
    w("}")


def _param_consts(w: _Writer, params: list[str], depth: int) -> None:
    for p in params:
        w(f"const ct_t {w.pr.symbol(p)} = pv_{p}[k];", depth)


def _prologue(w: _Writer) -> None:
    w(f"const long long i0 = ((long long)blockIdx.x * {BLOCK} + threadIdx.x) * {w.vec};")
    w("if (i0 >= N) return;")


def _name(kind: str, spec: MultiStepSpec, ctype: CudaType, vec: int, extra: str) -> str:
    reset = ("soft" if spec.soft_reset else "hard") + ("_detach" if spec.detach_reset else "")
    return f"sj_{kind}_{spec.neuron}_{spec.decl.content_hash}_{reset}_{ctype.name}_v{vec}{extra}"


@lru_cache(maxsize=512)
def forward_kernel(spec: MultiStepSpec, ctype: CudaType, vec: int, save: bool) -> KernelSource:
    """The forward kernel: ``x_seq`` + initial states + params → spikes, last states, [V seq], [H + aux seqs]."""
    if vec not in VECS:
        raise ValueError(f"vec must be one of {VECS}, got {vec}")
    prog = spec.program
    states, params = list(prog["states"]), list(prog["params"])
    _check_reads(f"forward of {spec.neuron!r}", prog["forward"], list(prog["forward_out"].values()),
                 {"x", *states, *params})
    w = _Writer(ctype, vec)
    w.arg("x_seq", "ptr")
    for s in states:
        w.arg(f"init_{s}", "ptr")
    for p in params:
        w.arg(f"p_{p}", "ptr")
        w.arg(f"ps_{p}", "i64")
    w.arg("spike_seq", "ptr", const=False)
    for s in states:
        w.arg(f"last_{s}", "ptr", const=False)
    if spec.store_v_seq:
        w.arg("v_seq", "ptr", const=False)
    if save:
        w.arg("saved_h", "ptr", const=False)
        for s in states[1:]:
            w.arg(f"saved_{s}", "ptr", const=False)
    w.arg("N", "i64")
    w.arg("T", "i32")

    _prologue(w)
    _load_params(w, params)
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
    _param_consts(w, params, 3)
    w.bind(prog["forward"], 3)
    w(f"out_s[k] = {w.pr.expr(prog['forward_out']['s'])};", 3)
    w(f"out_h[k] = sj_saved_h({w.pr.symbol('h')}, {w.pr.symbol('v_threshold')}, {w.pr.symbol('s')});", 3)
    for s in states:
        w(f"sv_{s}[k] = {w.pr.expr(prog['forward_out'][s])};", 3)
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
    extra = ("_vseq" if spec.store_v_seq else "") + ("_save" if save else "")
    name = _name("fwd", spec, ctype, vec, extra)
    return KernelSource(name, ctype, vec, w.kernel(name), tuple(w.args))


@lru_cache(maxsize=1024)
def backward_kernel(spec: MultiStepSpec, ctype: CudaType, vec: int, grad_v_seq: bool,
                    params_need_grad: tuple[bool, ...]) -> KernelSource:
    """The backward-through-time kernel: saved H/aux seqs + inputs + incoming grads → grad x, grad initial states
    and, for each parameter in ``params_need_grad``, its per-neuron gradient summed over time."""
    if vec not in VECS:
        raise ValueError(f"vec must be one of {VECS}, got {vec}")
    prog, sprog = spec.program, spec.surrogate_program
    states, params, sparams = list(prog["states"]), list(prog["params"]), list(sprog["params"])
    if len(params_need_grad) != len(params):
        raise ValueError(f"params_need_grad has {len(params_need_grad)} entries for params {params}")
    needs_x = bool(prog["needs_x"])
    body = inline_surrogate(prog["backward"], sprog)
    provided = {"h", *states, *params, *sparams, "grad_s", *(f"grad_{s}" for s in states)} | ({"x"} if needs_x
                                                                                               else set())
    _check_reads(f"backward of {spec.neuron!r} with {spec.surrogate}", body,
                 [prog["backward_out"][n] for n in ["x", *states, *params]], provided)
    _check_reads(f"reset of {spec.neuron!r}", [], [prog["reset"]], {"h", "s", *params})
    grads = [p for p, need in zip(params, params_need_grad) if need]

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
        w.arg(f"ps_{p}", "i64")
    for sp in sparams:
        w.arg(sp, "scalar")
    w.arg("grad_spike", "ptr")
    for s in states:
        w.arg(f"grad_last_{s}", "ptr")
    if grad_v_seq:
        w.arg("grad_v_seq", "ptr")
    w.arg("grad_x", "ptr", const=False)
    for s in states:
        w.arg(f"grad_init_{s}", "ptr", const=False)
    for p in grads:
        w.arg(f"grad_p_{p}", "ptr", const=False)
    w.arg("N", "i64")
    w.arg("T", "i32")

    _prologue(w)
    _load_params(w, params)
    for s in states:
        w(f"ct_t gs_{s}[{vec}];")
        w(f"sj_load(grad_last_{s}, i0, gs_{s});")
    for p in grads:
        w(f"ct_t acc_{p}[{vec}];")
    if grads:
        w.k_loop(1)
        for p in grads:
            w(f"acc_{p}[k] = (ct_t)0;", 2)
        w("}")
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
    _param_consts(w, params, 4)
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
    _param_consts(w, params, 3)
    for sp in sparams:
        w(f"const ct_t {w.pr.symbol(sp)} = {sp};", 3)
    w(f"const ct_t {w.pr.symbol('grad_s')} = in_gs[k];", 3)
    for s in states:
        extra = " + in_gv[k]" if (grad_v_seq and s == "v") else ""
        w(f"const ct_t {w.pr.symbol('grad_' + s)} = gs_{s}[k]{extra};", 3)
    w.bind(body, 3)
    out = prog["backward_out"]
    w(f"out_gx[k] = {w.pr.expr(out['x'])};", 3)
    for s in states:
        w(f"gs_{s}[k] = {w.pr.expr(out[s])};", 3)
    for p in grads:
        w(f"acc_{p}[k] += {w.pr.expr(out[p])};", 3)
    w("hc[k] = hp[k];", 3)
    w("}", 2)
    w("sj_store(grad_x, o, out_gx);", 2)
    w("}")
    for s in states:
        w(f"sj_store(grad_init_{s}, i0, gs_{s});")
    for p in grads:
        w(f"sj_store(grad_p_{p}, i0, acc_{p});")
    mask = "".join("1" if n else "0" for n in params_need_grad)
    extra = f"_{spec.surrogate}" + ("_gvseq" if grad_v_seq else "") + f"_g{mask}"
    name = _name("bwd", spec, ctype, vec, extra)
    return KernelSource(name, ctype, vec, w.kernel(name), tuple(w.args))
