"""Generate C kernels (OpenMP, SIMD-friendly) from sj-core's derived neuron and surrogate programs.

This module imports neither torch nor sympy, so the wheel's build hook can run it. One *variant* is a neuron
program (one reset mode and detach choice) in one scalar type; it yields one forward kernel and, per surrogate,
one backward kernel. Every kernel has the same plain C ABI (:data:`HEADER`): ``int fn(const args*, int threads)``.

Kernel layout: neurons are cut into chunks (up to :data:`MAX_CHUNK` elements, fewer when the kernel keeps many
per-chunk arrays, so they stay under :data:`STACK_BYTES`), chunks are shared among OpenMP threads, and
each chunk runs the whole time loop with its states in its slice of the ``states_last`` output (step 0 reads
``state_init``; backward keeps the running state gradients in ``grad_state_init`` likewise), so every step reads X
once and writes S (and H when saving) once, with no copy of the states in or out. Large calls take
:data:`TILE_STEPS` steps per pass over a chunk, the states in registers between them (backward, in the usual variants
of :data:`TILED_BACKWARD`: the state gradients and the parameter-gradient sums). Per-chunk values that only
depend on parameters (e.g. ``sigmoid(w)``) are hoisted out of the time loop; parameters are read with stride 1
(per-neuron) or broadcast from a scalar (stride 0).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re

from sj.codegen.c_printer import CPrinter
from sj.codegen.ir import Expr, inline_surrogate, program_reads, prune, rename, symbols_of

ABI_VERSION = 3  # 2: a null grad_states_last[k] means a zero gradient (older libraries would dereference it);
# 3: a scalar parameter's gradient is one value, reduced over the neurons by the kernel. (sj_cpu_plan, added since,
# changes no kernel call: libraries without it still serve every call.)
MAX_CHUNK = 16384
MIN_CHUNK = 256
STACK_BYTES = 512 * 1024  # per-chunk stack arrays of one kernel stay below this
# Time steps per pass over a chunk, the running values in registers through the pass (loaded and stored once per
# pass instead of once per step), for calls over SJ_TILE_WORK elements (HEADER). Two, not more: a pass reads and
# writes steps * (2 or 3) [T, N] rows at once, and at a power-of-two N those rows fall into one L1 set (8 ways); a
# forward through four steps ran up to 1.3x (inference) and 1.8x (saving H) slower at [4, 2^18] than single steps.
TILE_STEPS = 2
# The scalar types whose backward kernels have tiles, and there only in the chunk functions with every parameter a
# scalar that accumulate no parameter gradient or the neuron's own (the usual calls). A tile's steps are printed one
# after the other, and tiles everywhere made the library 1.8x larger and its build (CI's longest step) about
# twice as long.
TILED_BACKWARD = ("f32",)
SCALARS = {"f32": "float", "f64": "double"}
# A kernel's variants: its chunk functions for all-scalar parameters ("s": in registers) or per-neuron ones ("v");
# backward ones also by the parameter gradients they accumulate (_grad_sets). The prebuilt library holds every
# variant; a library compiled on first use holds the one its calls need.
FORWARD_VARIANTS = ("s", "v")
NO_VARIANT = -2  # what a kernel returns when its library lacks the variant a call needs
_INTERNAL = ("sjr_h", "sjr_z", "sjr_s")  # names the generator binds itself (previous step's reset)


class CodegenError(ValueError):
    """A derived program cannot be turned into a C kernel (e.g. a name clashes with the generator's own)."""


class _Printer(CPrinter):
    """C printer whose symbols carry a prefix, so IR names never clash with C keywords or kernel locals; float ``exp``
    calls the inlinable :data:`HEADER` ``sj_expf`` so loops containing it still vectorise (a libm call does not)."""

    def symbol(self, name: str) -> str:
        return "q_" + name

    def function_name(self, op: str) -> str:
        if op == "exp" and self.scalar == "float":
            return "sj_expf"
        return super().function_name(op)


def _ident(text: str) -> str:
    return re.sub(r"\W", "_", text)


def program_digest(program: dict) -> str:
    """Digest of a derived program's whole content (not only its declaration's hash): a kernel is named by what it
    computes, so a library built from other derivations of the same declaration (an older sj-core) lacks the symbol
    and the kernel is compiled afresh instead of running code that no longer matches the program."""
    return source_hash(json.dumps(program, sort_keys=True))[:16]


def forward_symbol(program: dict, suffix: str) -> str:
    """Exported name of the forward kernel of ``program`` (a derived neuron program) for ``suffix`` f32/f64."""
    reset = "soft" if program["soft_reset"] else "hard"
    return (f"sj_fwd_{_ident(program['neuron'])}_{program_digest(program)}_{reset}_d{int(program['detach_reset'])}_"
            f"{suffix}")


def backward_symbol(program: dict, surrogate: dict, suffix: str) -> str:
    """Exported name of the backward kernel of ``program`` with ``surrogate`` (a derived surrogate program)."""
    reset = "soft" if program["soft_reset"] else "hard"
    return (f"sj_bwd_{_ident(program['neuron'])}_{program_digest(program)}_{reset}_d{int(program['detach_reset'])}_"
            f"{_ident(surrogate['surrogate'])}_{program_digest(surrogate)}_{suffix}")


HEADER = r"""/* generated by sj.cpu.codegen: do not edit */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
/* expf that GCC can inline and vectorise: Cody-Waite reduction and a degree-6 polynomial (within 2 ulp of exp over
   the float range; NaN propagates, x above ln(FLT_MAX) gives +inf, x < -87 gives ~1.6e-38 instead of a denormal or
   0). Rounding by adding and subtracting 1.5 * 2^23 (exact for |t| < 2^22) keeps the loop branch-free (with a
   conditional +-0.5 GCC 12 left AVX2 loops scalar); 2^n is applied as two normal powers of two, so n = 128 does
   not overflow early. */
static inline float sj_expf(float x) {
    x = x > 89.0f ? 89.0f : x;
    x = x < -87.0f ? -87.0f : x;
    const float t = x * 1.44269504088896341f;
    const float n = (t + 12582912.0f) - 12582912.0f;
    const int32_t i = (int32_t)n;
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t i1 = i / 2, i2 = i - i1;
    const int32_t b1 = (int32_t)((uint32_t)(i1 + 127) << 23), b2 = (int32_t)((uint32_t)(i2 + 127) << 23);
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    return x != x ? x : p * s1 * s2;
}
#ifdef _OPENMP
#include <omp.h>
#endif
#define SJ_NO_VARIANT (-2)
#define SJ_SERIAL_WORK 32768
/* At least this many neurons per thread. Each thread's neurons are a column block of every [T, N] row; blocks narrower
   than this (16 KiB of float32) interleave the two threads' data within pages, and the threads slow each other down
   instead of sharing the work. A/B on 2 cores (docs/performance.md, session 11), 2 threads with pieces of 512-2048
   neurons against 1 thread: IF/LIF/PLIF 1.5-8.4x slower at N = 2^10 and 2^11, up to 2.9x slower at N = 2^12 up to
   T = 64 (at T = 256 mixed: IF 2.9x slower, LIF/PLIF 1.3-1.7x faster). */
#define SJ_MIN_PIECE 4096
/* Calls over this many elements take TILE_STEPS steps per pass (sj.cpu.codegen). Below it the data sits in the
   caches and the kernel is bound by its dependency chains, which a pass through two steps lengthens: LIF's and
   PLIF's inference ran 5-10 % slower that way at [4, 2^14] to [4, 2^18], and 20-25 % faster at [16, 2^18] and up. */
#define SJ_TILE_WORK (1 << 20)
#if defined(SJ_TARGET_CLONES) && defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define SJ_CLONES __attribute__((target_clones("avx2", "default")))
/* Kernels that call sj_expf also get an AVX-512 clone: its 32 vector registers hold the polynomial's constants
   without spilling (LIF's Sigmoid backward about 1.6x faster than the AVX2 clone where the CPU has AVX-512). */
#define SJ_CLONES_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SJ_CLONES
#define SJ_CLONES_WIDE
#endif
#if defined(_WIN32)
#define SJ_EXPORT __declspec(dllexport)
#else
#define SJ_EXPORT __attribute__((visibility("default")))
#endif
/* A chunk of neurons [i0, i0 + n). part: this chunk's slots for scalar-parameter gradient sums (backward only,
   NULL when none was asked). */
typedef void (*sj_chunk_fn)(const void *args, int64_t i0, int64_t n, double *part);

typedef struct {
    int nt;                /* threads */
    int64_t chunk, chunks; /* elements per piece, pieces */
} sj_plan;

/* Cut [0, N) into pieces of at most `chunk` elements for up to `threads` OpenMP threads (fewer where a thread would get
   under SJ_MIN_PIECE neurons). The piece count is a multiple of the thread count, so a small N is still split evenly
   among the threads. */
static inline sj_plan sj_plan_for(int64_t T, int64_t N, int64_t chunk, int threads) {
    sj_plan p;
    p.nt = threads < 1 ? 1 : threads;
    if (T * N < SJ_SERIAL_WORK) p.nt = 1;
    const int64_t most = N / SJ_MIN_PIECE > 1 ? N / SJ_MIN_PIECE : 1;
    if (p.nt > most) p.nt = (int)most;
    int64_t chunks = (N + chunk - 1) / chunk;
    chunks = (chunks + p.nt - 1) / p.nt * p.nt;
    int64_t piece = chunks ? (N + chunks - 1) / chunks : chunk;
    piece = (piece + 15) / 16 * 16; /* whole SIMD vectors */
    p.chunk = piece > chunk ? chunk : piece;
    p.chunks = (N + p.chunk - 1) / p.chunk;
    if (p.nt > p.chunks) p.nt = p.chunks > 0 ? (int)p.chunks : 1;
    return p;
}

/* Run fn over the pieces of plan p; piece c gets the `width` slots part + c * width (when part is not NULL). */
static inline void sj_parallel(sj_chunk_fn fn, const void *args, int64_t N, sj_plan p, double *part, int64_t width) {
#ifdef _OPENMP
#pragma omp parallel for num_threads(p.nt) schedule(static)
#endif
    for (int64_t c = 0; c < p.chunks; ++c) {
        const int64_t i0 = c * p.chunk;
        fn(args, i0, (N - i0) < p.chunk ? (N - i0) : p.chunk, part ? part + c * width : 0);
    }
}
"""

_ARGS = r"""
typedef struct {
    int64_t T, N;
    const %(t)s *x;                  /* [T, N] */
    const %(t)s *const *state_init;  /* n_states x [N] */
    const %(t)s *const *params;      /* n_params x ([N] or scalar) */
    const int64_t *param_strides;    /* 1 (per neuron) or 0 (scalar) */
    %(t)s *spike;                    /* [T, N] */
    %(t)s *const *states_last;       /* n_states x [N] */
    %(t)s *v_seq;                    /* [T, N] or NULL */
    %(t)s *const *saved;             /* NULL, or n_states x [T, N]: h, then aux states after each step */
} sj_fwd_args_%(s)s;

typedef struct {
    int64_t T, N;
    const %(t)s *const *saved;       /* n_states x [T, N] */
    const %(t)s *x;                  /* [T, N] or NULL (when the program does not read x) */
    const %(t)s *const *state_init;  /* n_states x [N] */
    const %(t)s *const *params;
    const int64_t *param_strides;
    const %(t)s *sparams;            /* surrogate parameters (scalars) */
    const %(t)s *grad_spike;         /* [T, N] */
    const %(t)s *const *grad_states_last; /* n_states x [N] */
    const %(t)s *grad_v_seq;         /* [T, N] or NULL */
    %(t)s *grad_x;                   /* [T, N] */
    %(t)s *const *grad_state_init;   /* n_states x [N] */
    %(t)s *const *grad_params;       /* n_params, NULL where not wanted: [N] summed over T for a per-neuron
                                        parameter, one value summed over T and N for a scalar one */
} sj_bwd_args_%(s)s;

/* Run a backward chunk function over plan p. A scalar parameter's gradient is summed here: each piece adds its
   neurons' gradients into its own slot (in double), then the slots are added in piece order, so a run gives the
   same value for the same thread count every time (no atomics). Returns 1 if the slots cannot be allocated. */
static __attribute__((unused)) int sj_run_bwd_%(s)s(sj_chunk_fn fn, const sj_bwd_args_%(s)s *a, sj_plan p,
                                                     int n_params) {
    int reduce = 0;
    for (int k = 0; k < n_params; ++k) if (a->grad_params[k] && !a->param_strides[k]) reduce = 1;
    double *part = 0;
    if (reduce && p.chunks > 0) {
        part = (double *)calloc((size_t)(p.chunks * n_params), sizeof(double));
        if (!part) return 1;
    }
    if (a->N > 0) sj_parallel(fn, a, a->N, p, part, n_params);
    if (reduce) for (int k = 0; k < n_params; ++k) {
        if (!a->grad_params[k] || a->param_strides[k]) continue;
        double sum = 0;
        for (int64_t c = 0; c < p.chunks; ++c) sum += part[c * n_params + k];
        a->grad_params[k][0] = (%(t)s)sum;
    }
    free(part);
    return 0;
}

static inline const %(t)s *sj_param_%(s)s(const %(t)s *p, int64_t stride, int64_t i0, int64_t n, %(t)s *buf) {
    if (stride) return p + i0;
    for (int64_t j = 0; j < n; ++j) buf[j] = p[0];
    return buf;
}
/* dst = a + b (dst may be a): a stored v_seq's gradient added to the running state gradient. Out of line, so each
   backward kernel does not carry its own vectorised copy of this rarely used loop. */
static __attribute__((noinline, unused)) void sj_add_%(s)s(%(t)s *dst, const %(t)s *a, const %(t)s *restrict b,
                                                          int64_t n) {
    #pragma omp simd
    for (int64_t j = 0; j < n; ++j) dst[j] = a[j] + b[j];
}
"""


def prelude(suffix: str) -> str:
    """Type-specific declarations (argument structs, helpers) for ``suffix`` f32/f64; once per translation unit."""
    t = SCALARS[suffix]
    return _ARGS % {"t": t, "s": suffix} + CPrinter(t).prelude()


def header() -> str:
    """The shared head of every generated translation unit (includes, macros, the parallel driver)."""
    return (HEADER + "\n/* ABI */\nSJ_EXPORT int sj_cpu_abi_version(void);\n"
            "SJ_EXPORT void sj_cpu_plan(int64_t T, int64_t N, int64_t chunk, int threads, int64_t *out);\n")


def abi_function() -> str:
    """Definitions of ``sj_cpu_abi_version`` and ``sj_cpu_plan`` (exactly once per shared library). ``sj_cpu_plan``
    writes the split a kernel call makes (threads, elements per piece, pieces) into ``out[0:3]``."""
    return (f"SJ_EXPORT int sj_cpu_abi_version(void) {{ return {ABI_VERSION}; }}\n"
            "SJ_EXPORT void sj_cpu_plan(int64_t T, int64_t N, int64_t chunk, int threads, int64_t *out) {\n"
            "    const sj_plan p = sj_plan_for(T, N, chunk, threads);\n"
            "    out[0] = p.nt;\n    out[1] = p.chunk;\n    out[2] = p.chunks;\n}\n")


# --------------------------------------------------------------------------------------------------------------------
# program transformations


class _Hoister:
    """Move parameter-only subexpressions out of the time loop. Same operations in the same order (same rounding),
    with one exception: a division by a time-invariant value (LIF's ``/ tau``) becomes a multiplication by its
    reciprocal, computed once. A vector division costs several multiplications' throughput and is what bounds
    LIF's kernels when their data sits in cache; the product differs from the quotient by at most ~1.5 ulp, which
    the conformance suite's tolerances (and its spike-flip margin) cover."""

    def __init__(self, invariant: set[str]) -> None:
        self.invariant = set(invariant)
        self.hoisted: list[list] = []
        self._by_key: dict[str, str] = {}

    def _name(self, expr: Expr) -> str:
        key = json.dumps(expr)
        if key not in self._by_key:
            name = f"hp{len(self._by_key)}"
            self._by_key[key] = name
            self.hoisted.append([name, expr])
            self.invariant.add(name)
        return self._by_key[key]

    def _is_invariant(self, expr: Expr) -> bool:
        return symbols_of(expr) <= self.invariant

    def lift(self, expr: Expr) -> Expr:
        if not isinstance(expr, list):
            return expr
        if self._is_invariant(expr):
            return self._name(expr)
        op, args = expr[0], expr[1:]
        if op == "/" and self._is_invariant(args[1]):
            return ["*", self.lift(args[0]), self._name(["/", 1, args[1]])]
        if op in ("+", "*"):
            k = 0
            while k < len(args) and self._is_invariant(args[k]):
                k += 1
            if k >= 2:  # an invariant prefix of an n-ary sum/product is evaluated first anyway
                return [op, self._name([op, *args[:k]]), *(self.lift(a) for a in args[k:])]
        if op == "pow":
            return [op, self.lift(args[0]), args[1]]
        return [op, *(self.lift(a) for a in args)]

    def program(self, bindings: list) -> list:
        out = []
        for name, expr in bindings:
            if self._is_invariant(expr):
                self.hoisted.append([name, expr])
                self.invariant.add(name)
            else:
                out.append([name, self.lift(expr)])
        return out


def _check_names(program: dict) -> None:
    used = set(program["states"]) | set(program["params"])
    for name, _ in program["forward"] + program["backward"]:
        used.add(name)
    clash = used & set(_INTERNAL)
    if clash:
        raise CodegenError(f"neuron {program['neuron']!r}: names {sorted(clash)} are reserved by the C generator")


# --------------------------------------------------------------------------------------------------------------------
# printing


class _Emitter:
    def __init__(self, suffix: str) -> None:
        self.s = suffix
        self.t = SCALARS[suffix]
        self.pr = _Printer(self.t)
        self.lines: list[str] = []

    def emit(self, line: str, depth: int) -> None:
        self.lines.append("    " * depth + line)

    def bind(self, bindings: list, depth: int) -> None:
        for name, expr in bindings:
            self.emit(f"const {self.t} {self.pr.symbol(name)} = {self.pr.expr(expr)};", depth)

    def load(self, names: set[str], sources: dict[str, str], depth: int) -> None:
        """``const T q_name = <source>;`` for every name in ``names`` that has a source."""
        for name, src in sources.items():
            if name in names:
                self.emit(f"const {self.t} {self.pr.symbol(name)} = {src};", depth)

    def params(self, program: dict, argsname: str, scalar: bool, depth: int) -> dict[str, str]:
        """Declare the parameters: scalars in registers (``scalar``) or per-chunk pointers; return loop sources."""
        if scalar:
            for k, p in enumerate(program["params"]):
                self.emit(f"const {self.t} {self.pr.symbol(p)} = {argsname}->params[{k}][0];", depth)
                self.emit(f"(void){self.pr.symbol(p)};", depth)
            return {}
        n = len(program["params"])
        self.emit(f"{self.t} pbuf[{n}][SJ_CHUNK];", depth)
        src = {}
        for k, p in enumerate(program["params"]):
            self.emit(f"const {self.t} *restrict p_{p} = sj_param_{self.s}({argsname}->params[{k}], "
                      f"{argsname}->param_strides[{k}], i0, n, pbuf[{k}]);", depth)
            self.emit(f"(void)p_{p};", depth)
            src[p] = f"p_{p}[j]"
        return src

    def hoist_loop(self, hoisted: list, sources: dict[str, str], loop_reads: set[str], scalar: bool, depth: int
                   ) -> dict[str, str]:
        """Compute hoisted bindings once per chunk (``scalar``: once, in registers) or once per chunk element, keeping
        those the time loop reads; return their loop sources."""
        if not hoisted:
            return {}
        if scalar:
            self.bind(hoisted, depth)
            for name, _ in hoisted:
                self.emit(f"(void){self.pr.symbol(name)};", depth)
            return {}
        stored = [name for name, _ in hoisted if name in loop_reads]
        for name in stored:
            self.emit(f"{self.t} hb_{name}[SJ_CHUNK];", depth)
        self.emit("for (int64_t j = 0; j < n; ++j) {", depth)
        self.load(program_reads(hoisted, []), sources, depth + 1)
        self.bind(hoisted, depth + 1)
        for name in stored:
            self.emit(f"hb_{name}[j] = {self.pr.symbol(name)};", depth + 1)
        self.emit("}", depth)
        return {name: f"hb_{name}[j]" for name in stored}


def _size_chunk(e: _Emitter, start: int) -> int:
    """Pick the chunk of the function emitted from line ``start`` on and substitute it for ``SJ_CHUNK`` there."""
    text = "\n".join(e.lines[start:])
    arrays = text.count("[SJ_CHUNK];") + sum(int(m) - 1 for m in re.findall(r"\[(\d+)\]\[SJ_CHUNK\]", text))
    size = 4 if e.t == "float" else 8
    chunk = MAX_CHUNK
    while chunk > MIN_CHUNK and arrays * chunk * size > STACK_BYTES:
        chunk //= 2
    e.lines[start:] = [line.replace("SJ_CHUNK", str(chunk)) for line in e.lines[start:]]
    return chunk


def _widen_clones(e: _Emitter, start: int) -> None:
    """Give the chunk function emitted from line ``start`` on the AVX-512 clone too when its time loop calls
    ``sj_expf`` (the one case where the extra clone pays for its size, see :data:`HEADER`; an ``exp`` of parameters
    only, e.g. PLIF's ``sigmoid(w)``, is hoisted out of the time loop and does not count)."""
    lines = e.lines[start:]
    loop = next((i for i, line in enumerate(lines) if "/* time loop */" in line), len(lines))
    if any("sj_expf(" in line for line in lines[loop:]):
        e.lines[start:] = [line.replace("SJ_CLONES static", "SJ_CLONES_WIDE static") for line in lines]


def _grad_sets(params: list[str]) -> list[tuple[str, list[int]]]:
    """The parameter-gradient variants of a backward kernel: ``(suffix, indices of the parameters accumulated)`` —
    none, the neuron's own parameters (when it has any), all (``v_threshold``/``v_reset`` included). Accumulating
    only what is asked matters: the base parameters' gradients cost PLIF's backward ~14 % at [64, 2^18]."""
    own = list(range(2, len(params)))  # params are v_threshold, v_reset, then the neuron's own (param_names order)
    sets = [("", []), ("o", own), ("p", list(range(len(params))))]
    return [sets[0], sets[2]] if not own else sets


def _dispatch(e: _Emitter, fn: str, kind: str, n_params: int, chunks: dict[str, int],
              grad_sets: list[tuple[str, list[int]]] | None = None) -> None:
    """The exported kernel: the all-scalar-parameter chunk function when every stride is 0, else the general one;
    in backward, the variant accumulating the fewest parameter gradients that covers the requested ones. Only the
    variants in ``chunks`` are compiled in; a call that needs another returns :data:`NO_VARIANT` (a library compiled
    on first use holds the one variant its calls need, see :func:`forward_variant`)."""
    e.emit(f"SJ_EXPORT int {fn}(const sj_{kind}_args_{e.s} *a, int threads) {{", 0)
    e.emit("int scalar = 1;", 1)
    e.emit(f"for (int k = 0; k < {n_params}; ++k) if (a->param_strides[k]) scalar = 0;", 1)
    if kind == "bwd":
        # want: the first variant (the fewest gradients) that accumulates every requested parameter gradient
        e.emit("int want = 0;", 1)
        for k in range(n_params):
            level = next(i for i, (_, grads) in enumerate(grad_sets) if k in grads)
            e.emit(f"if (a->grad_params[{k}] && want < {level}) want = {level};", 1)
        for mode in ("s", "v"):
            for level, (suffix, _) in enumerate(grad_sets):
                variant = mode + suffix
                if variant in chunks:
                    cond = ("scalar" if mode == "s" else "!scalar") + f" && want == {level}"
                    e.emit(f"if ({cond}) return sj_run_bwd_{e.s}({fn}_chunk_{variant}, a, "
                           f"sj_plan_for(a->T, a->N, {chunks[variant]}, threads), {n_params});", 1)
    else:
        for mode, cond in (("s", "scalar"), ("v", "!scalar")):
            if mode in chunks:
                e.emit(f"if ({cond}) {{", 1)
                e.emit(f"if (a->N > 0) sj_parallel({fn}_chunk_{mode}, a, a->N, "
                       f"sj_plan_for(a->T, a->N, {chunks[mode]}, threads), 0, 0);", 2)
                e.emit("return 0;", 2)
                e.emit("}", 1)
    e.emit("return SJ_NO_VARIANT;", 1)
    e.emit("}", 0)


def _forward_tile(e: _Emitter, program: dict, reads: set[str], bindings: list, outs: list[Expr],
                  sources: dict[str, str], steps: int, depth: int) -> None:
    """Emit the loop ``for (; t0 + steps <= T; t0 += steps)`` over tiles of ``steps`` time steps: each element of the
    chunk loads its states once, runs the tile's steps (printed one after the other) in registers, and stores them
    once. The states live in the ``states_last`` output between tiles (no chunk copy in or out: a pass over [N]
    each costs ~15 % at T=4); the first tile reads ``state_init``."""
    t, states, pr = e.t, program["states"], e.pr
    e.emit(f"for (; t0 + {steps} <= T; t0 += {steps}) {{", depth)
    e.emit("const int64_t off = t0 * N + i0;", depth + 1)
    e.emit(f"const {t} *restrict xt = a->x + off;", depth + 1)
    e.emit(f"{t} *restrict spk = a->spike + off;", depth + 1)
    e.emit(f"{t} *restrict vs = store_v ? a->v_seq + off : 0;", depth + 1)
    for k, st in enumerate(states):  # saved[0] is h, saved[k] the aux state k after the step
        e.emit(f"{t} *restrict sv_{st} = save ? a->saved[{k}] + off : 0;", depth + 1)
    # Not restrict: pv_ and nv_ are the same memory after the first tile (each element read, then written, by the
    # same iteration; omp simd vectorises regardless).
    for k, st in enumerate(states):
        e.emit(f"const {t} *pv_{st} = (t0 ? a->states_last[{k}] : a->state_init[{k}]) + i0;", depth + 1)
        e.emit(f"{t} *nv_{st} = a->states_last[{k}] + i0;", depth + 1)
    e.emit("#pragma omp simd", depth + 1)
    e.emit("for (int64_t j = 0; j < n; ++j) {", depth + 1)
    inner = depth + 2
    for st in states:
        e.emit(f"{t} c_{st} = pv_{st}[j];", inner)
    for step in range(steps):
        at = f"{step} * N + j" if step else "j"
        e.emit("{", inner)
        e.load(reads, {"x": f"xt[{at}]", **{st: f"c_{st}" for st in states}, **sources}, inner + 1)
        e.bind(bindings, inner + 1)
        e.emit(f"spk[{at}] = {pr.expr(outs[0])};", inner + 1)
        for k, st in enumerate(states):
            e.emit(f"const {t} n_{st} = {pr.expr(outs[1 + k])};", inner + 1)
        e.emit(f"if (save) sv_{states[0]}[{at}] = {pr.expr(outs[-1])};", inner + 1)
        for st in states[1:]:
            e.emit(f"if (save) sv_{st}[{at}] = n_{st};", inner + 1)
        e.emit(f"if (store_v) vs[{at}] = n_{states[0]};", inner + 1)
        for st in states:
            e.emit(f"c_{st} = n_{st};", inner + 1)
        e.emit("}", inner)
    for st in states:
        e.emit(f"nv_{st}[j] = c_{st};", inner)
    e.emit("}", depth + 1)
    e.emit("}", depth)


def _forward(program: dict, suffix: str, variants: tuple[str, ...] = FORWARD_VARIANTS) -> str:
    e = _Emitter(suffix)
    t, states, fn = e.t, program["states"], forward_symbol(program, suffix)
    out_exprs = [program["forward_out"]["s"], *(program["forward_out"][n] for n in states), "h"]
    bindings = prune(program["forward"], out_exprs)
    hoister = _Hoister(set(program["params"]))
    bindings = hoister.program(bindings)
    outs = [hoister.lift(x) for x in out_exprs]
    hoisted = prune(hoister.hoisted, [*outs, *(b[1] for b in bindings)])
    reads = program_reads(bindings, outs)
    chunks = {}
    for mode in variants:  # s: every parameter a scalar (registers); v: per-neuron parameters possible
        start = len(e.lines)
        e.emit(f"static inline __attribute__((always_inline)) void {fn}_body_{mode}(const void *args_, int64_t i0, "
               "int64_t n, const int save, const int store_v) {", 0)
        e.emit(f"const sj_fwd_args_{suffix} *a = (const sj_fwd_args_{suffix} *)args_;", 1)
        e.emit("const int64_t T = a->T, N = a->N;", 1)
        sources = e.params(program, "a", mode == "s", 1)
        sources.update(e.hoist_loop(hoisted, sources, reads, mode == "s", 1))
        e.emit("int64_t t0 = 0; /* time loop */", 1)
        # tiles of TILE_STEPS steps (large calls), then the remaining single steps
        e.emit("if (T * N > SJ_TILE_WORK) {", 1)
        _forward_tile(e, program, reads, bindings, outs, sources, TILE_STEPS, 2)
        e.emit("}", 1)
        _forward_tile(e, program, reads, bindings, outs, sources, 1, 1)
        for k in range(len(states)):
            e.emit(f"if (T == 0) memcpy(a->states_last[{k}] + i0, a->state_init[{k}] + i0, n * sizeof({t}));", 1)
        e.emit("}", 0)
        e.emit(f"SJ_CLONES static void {fn}_chunk_{mode}(const void *args_, int64_t i0, int64_t n, double *part) {{",
               0)
        e.emit(f"const sj_fwd_args_{suffix} *a = (const sj_fwd_args_{suffix} *)args_;", 1)
        e.emit("(void)part;", 1)
        e.emit("if (a->saved) {", 1)
        e.emit(f"if (a->v_seq) {fn}_body_{mode}(args_, i0, n, 1, 1); else {fn}_body_{mode}(args_, i0, n, 1, 0);", 2)
        e.emit("} else {", 1)
        e.emit(f"if (a->v_seq) {fn}_body_{mode}(args_, i0, n, 0, 1); else {fn}_body_{mode}(args_, i0, n, 0, 0);", 2)
        e.emit("}", 1)
        e.emit("}", 0)
        chunks[mode] = _size_chunk(e, start)
        _widen_clones(e, start)
    _dispatch(e, fn, "fwd", len(program["params"]), chunks)
    return "\n".join(e.lines) + "\n"


def _product_factors(expr: Expr) -> list[Expr]:
    """The factors of a (nested) product."""
    if isinstance(expr, list) and expr[0] == "*":
        return [f for a in expr[1:] for f in _product_factors(a)]
    return [expr]


def _invariant_factor(expr: Expr, invariant: set[str]) -> tuple[Expr, Expr | None]:
    """``(E, c)`` when ``expr`` is a product ``E * c`` (or ``-(E * c)``; ``E`` then carries the sign) whose factors
    ``c`` are invariant over time, else ``(expr, None)``: a parameter gradient summed over time is then multiplied by
    ``c`` once per neuron instead of once per step (PLIF's ``w`` gradient is ``-(E / (1 + exp(w)))``, which the
    hoister turns into ``E`` times a hoisted reciprocal; the sum of products and the product of the sum differ only
    in rounding)."""
    neg = isinstance(expr, list) and expr[0] == "neg"
    body = expr[1] if neg else expr
    if not (isinstance(body, list) and body[0] == "*"):
        return expr, None
    factors = _product_factors(body)
    varying = [a for a in factors if not symbols_of(a) <= invariant]
    fixed = [a for a in factors if symbols_of(a) <= invariant]
    if not varying or not fixed:
        return expr, None
    inner = varying[0] if len(varying) == 1 else ["*", *varying]
    return (["neg", inner] if neg else inner), (fixed[0] if len(fixed) == 1 else ["*", *fixed])


def _param_grad(e: _Emitter, param: str, factor: Expr | None) -> str:
    """C expression of one neuron's gradient of ``param`` after the time loop: its accumulated sum, times its
    time-invariant factor if it has one; 0 when ``T == 0``."""
    if factor is None:
        return f"acc_{param}[j]"
    return f"T > 0 ? acc_{param}[j] * {e.pr.expr(factor)} : 0"


class _BackwardBody:
    """Emits the backward's passes over a chunk (inside the chunk function, where ``t`` is the pass's latest step).
    A pass over ``steps`` steps t, t-1, ... loads the running state gradients and parameter-gradient sums once, runs
    its steps in registers (printed one after the other) and stores them once."""

    def __init__(self, e: _Emitter, states: list[str], acc: list[str], reads: set[str], prev_body: list,
                 bindings: list, outs: list[Expr], sources: dict[str, str]) -> None:
        self.e, self.states, self.acc, self.reads, self.prev_body = e, states, acc, reads, prev_body
        self.bindings, self.outs, self.sources = bindings, outs, sources

    def _pointers(self, depth: int) -> None:
        e, t = self.e, self.e.t
        e.emit("const int64_t off = t * N + i0;", depth)
        e.emit(f"const {t} *restrict ht = a->saved[0] + off;", depth)
        e.emit(f"const {t} *restrict gs = a->grad_spike + off;", depth)
        e.emit(f"{t} *restrict gx = a->grad_x + off;", depth)
        if "x" in self.reads:
            e.emit(f"const {t} *restrict xt = a->x + off;", depth)

    def single(self, depth: int, first: bool = False) -> None:
        """One step t (``first``: t = 0, whose previous states are state_init). The running state gradients live in
        the grad_state_init output (as the forward's states do in states_last); the last step reads
        grad_states_last, where a null pointer means zero (the last state was not used): the chunk of the output is
        zeroed and read in place. A stored v_seq's gradient is added in first, in its own pass: only calls with
        store_v_seq pay for it."""
        e, t, states = self.e, self.e.t, self.states
        self._pointers(depth)
        for k, st in enumerate(states):
            e.emit(f"{t} *ng_{st} = a->grad_state_init[{k}] + i0;", depth)
            e.emit(f"const {t} *pg_{st} = t == T - 1 ? a->grad_states_last[{k}] : a->grad_state_init[{k}];", depth)
            e.emit(f"if (pg_{st}) pg_{st} += i0;", depth)
            e.emit(f"else {{ memset(ng_{st}, 0, (size_t)n * sizeof({t})); pg_{st} = ng_{st}; }}", depth)
        e.emit("if (a->grad_v_seq) {", depth)
        e.emit(f"sj_add_{e.s}(ng_{states[0]}, pg_{states[0]}, a->grad_v_seq + off, n);", depth + 1)
        e.emit(f"pg_{states[0]} = ng_{states[0]};", depth + 1)
        e.emit("}", depth)
        self._previous(first, depth)
        self._loop(1, first, depth)

    def tile(self, steps: int, depth: int) -> None:
        """Steps t down to t - steps + 1, all >= 1 and below T - 1, with no v_seq gradient."""
        e, t = self.e, self.e.t
        self._pointers(depth)
        for k, st in enumerate(self.states):  # read, then written, by the same iteration: not restrict
            e.emit(f"{t} *ng_{st} = a->grad_state_init[{k}] + i0;", depth)
            e.emit(f"const {t} *pg_{st} = ng_{st};", depth)
        self._previous(False, depth)
        self._loop(steps, False, depth)

    def _previous(self, first: bool, depth: int) -> None:
        """Pointers to the previous states: state_init at step 0, else the aux states saved one row earlier (row
        t - s - 1 for the pass's step s: indexed from ``pv_`` at row t); v is recomputed from the saved h."""
        e, t = self.e, self.e.t
        for k, st in enumerate(self.states):
            if st in self.reads and (first or k):
                src = f"a->state_init[{k}] + i0" if first else f"a->saved[{k}] + off"
                e.emit(f"const {t} *restrict pv_{st} = {src};", depth)

    def _loop(self, steps: int, first: bool, depth: int) -> None:
        e, t, pr, states = self.e, self.e.t, self.e.pr, self.states
        e.emit("#pragma omp simd", depth)
        e.emit("for (int64_t j = 0; j < n; ++j) {", depth)
        inner = depth + 1
        for st in states:
            e.emit(f"{t} c_{st} = pg_{st}[j];", inner)
        for p in self.acc:
            e.emit(f"{t} c_{p} = acc_{p}[j];", inner)
        for step in range(steps):
            at = f"j - {step} * N" if step else "j"
            before = f"j - {step + 1} * N"  # the row before this step's
            src = {"h": f"ht[{at}]", "x": f"xt[{at}]", "grad_s": f"gs[{at}]", **self.sources,
                   **{f"grad_{st}": f"c_{st}" for st in states}}
            e.emit("{", inner)
            if first:
                src.update({st: f"pv_{st}[j]" for st in states})
                e.load(self.reads, src, inner + 1)
            else:
                src.update({st: f"pv_{st}[{before}]" for st in states[1:]})
                src["sjr_h"] = f"ht[{before}]"
                if states[0] in self.reads:
                    e.load(program_reads(self.prev_body, [states[0]]) | (self.reads - {states[0]}), src, inner + 1)
                    e.bind(self.prev_body, inner + 1)
                else:
                    e.load(self.reads, src, inner + 1)
            e.bind(self.bindings, inner + 1)
            e.emit(f"gx[{at}] = {pr.expr(self.outs[0])};", inner + 1)
            for k, st in enumerate(states):
                e.emit(f"const {t} n_{st} = {pr.expr(self.outs[1 + k])};", inner + 1)
            for i, p in enumerate(self.acc):
                e.emit(f"c_{p} += {pr.expr(self.outs[1 + len(states) + i])};", inner + 1)
            for st in states:
                e.emit(f"c_{st} = n_{st};", inner + 1)
            e.emit("}", inner)
        for st in states:
            e.emit(f"ng_{st}[j] = c_{st};", inner)
        for p in self.acc:
            e.emit(f"acc_{p}[j] = c_{p};", inner)
        e.emit("}", depth)


def _backward(program: dict, surrogate: dict, suffix: str, variants: tuple[str, ...] | None = None) -> str:
    e = _Emitter(suffix)
    t, states, params = e.t, program["states"], program["params"]
    fn = backward_symbol(program, surrogate, suffix)
    sparams = surrogate["params"]
    out_names = ["x", *states, *params]
    all_outs = [program["backward_out"][n] for n in out_names]
    full = prune(inline_surrogate(program["backward"], surrogate), all_outs)
    hoister = _Hoister(set(params) | set(sparams))
    full = hoister.program(full)
    all_outs = [hoister.lift(x) for x in all_outs]
    # the previous step's v recomputed from its saved h: z, s and the reset expression over sjr_* names
    prev = [["sjr_z", ["+", "sjr_h", ["neg", "v_threshold"]]], ["sjr_s", ["heaviside", "sjr_z"]],
            [states[0], rename(program["reset"], {"h": "sjr_h", "s": "sjr_s", "z": "sjr_z"})]]
    prev = prune(prev, [states[0]])
    prev_body = hoister.program(prev)

    chunks = {}
    grad_sets = _grad_sets(params)
    # s: every parameter a scalar (registers); v: per-neuron parameters possible. Which parameter gradients a
    # variant accumulates (see _grad_sets): none (their expressions, often divisions, not computed at all), the
    # neuron's own parameters (e.g. PLIF's w: the usual learnable one), or all.
    invariant = set(params) | set(sparams) | {name for name, _ in hoister.hoisted}
    for mode, (gsuffix, grads) in itertools.product(FORWARD_VARIANTS, grad_sets):
        if variants is not None and mode + gsuffix not in variants:
            continue
        split = [_invariant_factor(all_outs[1 + len(states) + k], invariant) for k in grads]
        outs = all_outs[:1 + len(states)] + [inner for inner, _ in split]
        factors = [f for _, f in split if f is not None]
        bindings = prune(full, outs)
        hoisted = prune(hoister.hoisted, [*outs, *factors, *(b[1] for b in bindings + prev_body)])
        start = len(e.lines)
        kind = mode + gsuffix
        e.emit(f"SJ_CLONES static void {fn}_chunk_{kind}(const void *args_, int64_t i0, int64_t n, double *part) {{",
               0)
        e.emit(f"const sj_bwd_args_{suffix} *a = (const sj_bwd_args_{suffix} *)args_;", 1)
        e.emit("const int64_t T = a->T, N = a->N;", 1)
        sources = e.params(program, "a", mode == "s", 1)
        for k, sp in enumerate(sparams):
            e.emit(f"const {t} {e.pr.symbol(sp)} = a->sparams[{k}];", 1)
            e.emit(f"(void){e.pr.symbol(sp)};", 1)
        for k in grads:
            e.emit(f"{t} acc_{params[k]}[SJ_CHUNK];", 1)
            e.emit(f"for (int64_t j = 0; j < n; ++j) acc_{params[k]}[j] = 0;", 1)
        reads = program_reads(bindings, outs)
        factor_reads = program_reads([], factors)
        sources.update(e.hoist_loop(hoisted, sources, reads | factor_reads | program_reads(prev_body, [states[0]]),
                                    mode == "s", 1))
        body = _BackwardBody(e, states, [params[k] for k in grads], reads, prev_body, bindings, outs, sources)
        e.emit("int64_t t = T - 1; /* time loop */", 1)
        if suffix in TILED_BACKWARD and mode == "s" and gsuffix != "p":
            # Large calls without a v_seq gradient take the steps below the last (which reads grad_states_last)
            # and above 0 in tiles of TILE_STEPS, the running state gradients and parameter sums in registers
            # through a tile; any left over run alone.
            e.emit("const int tiles = T * N > SJ_TILE_WORK && !a->grad_v_seq;", 1)
            e.emit("for (; t >= 1; --t) {", 1)
            e.emit(f"if (tiles && t >= {TILE_STEPS} && t < T - 1) {{", 2)
            body.tile(TILE_STEPS, 3)
            e.emit(f"t -= {TILE_STEPS - 1};", 3)
            e.emit("} else {", 2)
            body.single(3)
            e.emit("}", 2)
            e.emit("}", 1)
        else:
            e.emit("for (; t >= 1; --t) {", 1)
            body.single(2)
            e.emit("}", 1)
        e.emit("if (T > 0) {", 1)  # here t == 0
        body.single(2, first=True)
        e.emit("}", 1)
        for k in range(len(states)):
            e.emit(f"if (T == 0 && a->grad_states_last[{k}]) memcpy(a->grad_state_init[{k}] + i0, "
                   f"a->grad_states_last[{k}] + i0, (size_t)n * sizeof({t}));", 1)
            e.emit(f"else if (T == 0) memset(a->grad_state_init[{k}] + i0, 0, (size_t)n * sizeof({t}));", 1)
        if not grads:
            e.emit("(void)part;", 1)
        for k, (_, factor) in zip(grads, split):
            # per neuron: the time sum times its invariant factors, if any (0 when T == 0)
            factor_names = program_reads([], [factor]) if factor is not None else set()
            e.emit(f"if (a->grad_params[{k}]) {{", 1)
            if mode == "v":
                e.emit(f"if (a->param_strides[{k}]) {{", 2)
                e.emit("for (int64_t j = 0; j < n; ++j) {", 3)
                e.load(factor_names, sources, 4)
                e.emit(f"a->grad_params[{k}][i0 + j] = {_param_grad(e, params[k], factor)};", 4)
                e.emit("}", 3)
                e.emit("} else {", 2)
            depth = 3 if mode == "v" else 2
            # a scalar parameter: this chunk's sum over its neurons, in double, into its slot
            e.emit("double sum = 0;", depth)
            e.emit("#pragma omp simd reduction(+:sum)", depth)
            e.emit("for (int64_t j = 0; j < n; ++j) {", depth)
            e.load(factor_names, sources, depth + 1)
            e.emit(f"sum += (double)({_param_grad(e, params[k], factor)});", depth + 1)
            e.emit("}", depth)
            e.emit(f"part[{k}] = sum;", depth)
            if mode == "v":
                e.emit("}", 2)
            e.emit("}", 1)
        e.emit("}", 0)
        chunks[kind] = _size_chunk(e, start)
        _widen_clones(e, start)
    _dispatch(e, fn, "bwd", len(params), chunks, grad_sets)
    return "\n".join(e.lines) + "\n"


def kernels_source(program: dict, surrogates: list[dict], suffix: str) -> str:
    """The forward kernel of ``program`` and its backward kernel for each of ``surrogates`` (no header/prelude)."""
    if suffix not in SCALARS:
        raise CodegenError(f"scalar suffix must be one of {sorted(SCALARS)}, got {suffix!r}")
    _check_names(program)
    parts = [_forward(program, suffix)]
    parts += [_backward(program, sg, suffix) for sg in surrogates]
    return "\n".join(parts)


def forward_variant(scalar: bool) -> str:
    """The forward variant a call runs: ``"s"`` when every parameter is a 0-d tensor (``scalar``), else ``"v"``."""
    return FORWARD_VARIANTS[0] if scalar else FORWARD_VARIANTS[1]


def backward_variants(program: dict) -> list[str]:
    """Every backward variant of ``program``'s kernels (what the prebuilt library compiles)."""
    return [mode + gs for mode in FORWARD_VARIANTS for gs, _ in _grad_sets(program["params"])]


def backward_variant(program: dict, scalar: bool, wanted: list[bool]) -> str:
    """The backward variant a call runs: its parameter mode (:func:`forward_variant`) and the variant accumulating the
    fewest parameter gradients that covers the ``wanted`` ones (one flag per parameter), as the kernels' dispatcher
    picks it."""
    sets = _grad_sets(program["params"])
    level = max((next(i for i, (_, grads) in enumerate(sets) if k in grads) for k, w in enumerate(wanted) if w),
                default=0)
    return forward_variant(scalar) + sets[level][0]


def _check_unit(program: dict, suffix: str, variant: str, variants) -> None:
    _check_names(program)
    if suffix not in SCALARS:
        raise CodegenError(f"scalar suffix must be one of {sorted(SCALARS)}, got {suffix!r}")
    if variant not in variants:
        raise CodegenError(f"no kernel variant {variant!r} for {program['neuron']!r} (has {list(variants)})")


def forward_unit(program: dict, suffix: str, variant: str) -> str:
    """A complete C source holding only ``program``'s forward kernel, only its ``variant``: a library compiled on first
    use (a fraction of the whole kernel's code, so it compiles in a fraction of the time)."""
    _check_unit(program, suffix, variant, FORWARD_VARIANTS)
    return "\n".join([header(), prelude(suffix), _forward(program, suffix, (variant,)), abi_function()])


def backward_unit(program: dict, surrogate: dict, suffix: str, variant: str) -> str:
    """Like :func:`forward_unit`, for the backward kernel of ``program`` with ``surrogate``."""
    _check_unit(program, suffix, variant, backward_variants(program))
    return "\n".join([header(), prelude(suffix), _backward(program, surrogate, suffix, (variant,)), abi_function()])


def translation_unit(units: list[tuple[dict, list[dict]]], suffixes: tuple[str, ...] = ("f32", "f64"),
                     with_abi: bool = True) -> str:
    """A complete C source: header, preludes, and the kernels of every ``(program, surrogates)`` in each scalar."""
    parts = [header()]
    for suffix in suffixes:
        parts.append(prelude(suffix))
        parts += [kernels_source(prog, sgs, suffix) for prog, sgs in units]
    if with_abi:
        parts.append(abi_function())
    return "\n".join(parts)


def source_hash(source: str) -> str:
    """Key of a compiled artefact: hash of its full C source."""
    return hashlib.sha256(source.encode()).hexdigest()[:24]
