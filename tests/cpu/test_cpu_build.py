"""The generated C source compiles with warnings as errors (build-hook source and run-time source)."""

import ctypes
import json
import os
import re

import pytest

import sj.neuron.builtin  # noqa: F401
from sj.cpu import codegen, compiler, library, prebuilt
from sj.neuron.derived import _BUILTIN
from sj.ops.spec import MultiStepSpec

pytestmark = pytest.mark.skipif(compiler.find_compiler() is None, reason="no C compiler")


def test_build_record_names_the_kernel_sources_and_the_flags(tmp_path):
    derived = json.loads(_BUILTIN.read_text())
    flags = compiler.build_flags(werror=True)
    paths = prebuilt.write_sources(derived, tmp_path / "src", flags)
    names = [p.name for p in paths]
    # the hot set: IF, LIF and PLIF, every reset mode and detach choice, float32; all else is compiled on first use
    assert names[0] == "abi.c" and sorted(names[1:]) == sorted(
        f"{n}_{r}_d{d}_f32.c" for n in ("if_", "lif", "plif") for r in ("hard", "soft") for d in (0, 1))
    compiler.compile_objects(paths[:1], tmp_path / "abi.so", werror=True)
    digest, recorded = prebuilt.parse_build_record(_record(ctypes.CDLL(str(tmp_path / "abi.so"))))
    assert recorded == flags and set(compiler.WERROR) <= set(recorded)
    written = {p.name: p.read_text() for p in paths[1:]}
    assert digest == prebuilt.sources_digest(written) == prebuilt.sources_digest(prebuilt.kernel_sources(derived))
    written["lif_hard_d0_f32.c"] += " "
    assert prebuilt.sources_digest(written) != digest


def test_build_record_keeps_quotes_and_backslashes_of_the_flags_and_rejects_other_text(tmp_path):
    derived = json.loads(_BUILTIN.read_text())
    flags = ["-O3", '-DNAME="a\\b"', "-march=x86-64-v3"]  # what a build with an odd SJ_CPU_MARCH could record
    abi = prebuilt.write_sources(derived, tmp_path / "src", flags)[0]
    compiler.compile_objects([abi], tmp_path / "abi.so", werror=True)
    assert prebuilt.parse_build_record(_record(ctypes.CDLL(str(tmp_path / "abi.so"))))[1] == flags
    with pytest.raises(ValueError, match="not a build record"):
        prebuilt.parse_build_record("flags=-O3")


def _record(lib: ctypes.CDLL) -> str:
    text = library.build_record(lib)
    assert text is not None
    return text


def test_prebuilt_library_is_todays_sources_built_with_warnings_as_errors(tmp_path):
    """The build hook compiles every kernel source with -Wall -Wextra -Werror, and the library records the sources'
    digest and the flags: the installed library must be exactly what the generator writes today, built that way (a
    stale library would also serve old kernels to every other test). Without a prebuilt library (a build with
    SJ_CPU_SKIP_BUILD=1), two of the sources are compiled here instead."""
    derived = json.loads(_BUILTIN.read_text())
    loader = library.Loader(tmp_path)
    lib, reason = loader.prebuilt()
    note = prebuilt.no_kernels_note(loader.library_path)
    assert not note.exists(), f"the package's build could not compile the kernels: {reason}\n{note.read_text()}"
    if lib is None:
        paths = prebuilt.write_sources(derived, tmp_path / "src", compiler.build_flags(werror=True))
        picked = [p for p in paths if p.name in ("abi.c", "plif_soft_d1_f32.c")]
        compiler.compile_objects(picked, tmp_path / "lib.so", werror=True, jobs=2)
        return
    rebuild = "rebuild it: pip install --no-build-isolation --no-deps -e packages/sj-cpu"
    assert hasattr(lib, "sj_cpu_build_record"), f"the prebuilt library predates build records; {rebuild}"
    digest, flags = prebuilt.parse_build_record(_record(lib))
    assert digest == prebuilt.sources_digest(prebuilt.kernel_sources(derived)), (
        f"the prebuilt library was built from other kernel sources than the generator writes now; {rebuild}")
    assert set(compiler.WERROR) <= set(flags), flags
    assert compiler.OPENMP in flags or not compiler.openmp_supported(tuple(compiler.find_compiler())), flags


def test_the_suite_compiles_run_time_kernels_with_warnings_as_errors(tmp_path, monkeypatch):
    """tests/conftest.py sets SJ_CPU_WERROR=1, so every kernel variant the suite compiles on first use (the conformance
    kit's every built-in neuron × surrogate × dtype, the custom neurons) is built with -Wall -Wextra -Werror, and the
    suite's own fallback filter turns a refused build into a failure instead of a quiet fallback to the reference."""
    assert os.environ.get(compiler.WERROR_ENV) == "1"
    assert set(compiler.WERROR) <= set(compiler.runtime_flags(compiler.find_compiler()))
    source = "int sj_unused_probe(int a) { int b; return a; }\n"  # -Wunused-variable
    with pytest.raises(compiler.CompileError, match="unused"):
        compiler.cached_library(source, "probe", tmp_path / "cache")
    monkeypatch.setenv(compiler.WERROR_ENV, "0")
    assert compiler.cached_library(source, "probe", tmp_path / "cache").exists()


def test_reserved_names_are_rejected():
    spec = MultiStepSpec("lif", "ATan", (2.0,), False, False, False)
    prog = dict(spec.program, params=[*spec.program["params"], "sjr_h"])
    with pytest.raises(codegen.CodegenError, match="reserved"):
        codegen.kernels_source(prog, [spec.surrogate_program], "f32")


def _wide_chunks(source: str) -> tuple[set[str], set[str]]:
    """Names of the chunk functions with and without the AVX-512 clone."""
    wide, plain = set(), set()
    for line in source.splitlines():
        for marker, into in (("SJ_CLONES_WIDE static void ", wide), ("SJ_CLONES static void ", plain)):
            if line.startswith(marker):
                into.add(line[len(marker):].split("(")[0])
    return wide, plain


@pytest.mark.parametrize(("neuron", "surrogate", "suffix", "fwd_wide", "bwd_wide"), [
    ("lif", "Sigmoid", "f32", False, True),   # exp in the surrogate's derivative
    ("lif", "ATan", "f32", False, False),     # rational: no exp
    ("plif", "ATan", "f32", False, False),    # sigmoid(w) is hoisted out of the time loop
    ("eif", "ATan", "f32", True, True),       # exp in the dynamics
    ("eif", "Sigmoid", "f64", False, False),  # double exp is libm's, not sj_expf: no wider clone helps
])
def test_only_kernels_looping_over_sj_expf_get_the_avx512_clone(neuron, surrogate, suffix, fwd_wide, bwd_wide):
    spec = MultiStepSpec(neuron, surrogate, (), False, False, False)
    wide, plain = _wide_chunks(codegen.kernels_source(spec.program, [spec.surrogate_program], suffix))
    fwd = {n for n in wide | plain if n.startswith("sj_fwd_")}
    bwd = {n for n in wide | plain if n.startswith("sj_bwd_")}
    assert fwd and bwd
    assert (fwd <= wide if fwd_wide else fwd <= plain), (wide, plain)
    assert (bwd <= wide if bwd_wide else bwd <= plain), (wide, plain)
    assert "SJ_CLONES_WIDE __attribute__((target_clones(\"avx512f\"" in codegen.HEADER


def _functions(source: str) -> dict[str, str]:
    """Each top-level C function's body by its name."""
    bodies, name = {}, None
    for line in source.splitlines():
        if line.endswith("{") and not line.startswith(" ") and "(" in line:
            name = re.search(r"(sj_\w+)\(", line).group(1)
            bodies[name] = ""
        elif line == "}":
            name = None
        elif name is not None:
            bodies[name] += line + "\n"
    return bodies


def _chunk_bodies(source: str) -> dict[str, str]:
    """Each backward chunk function's source by its variant suffix (``s``, ``so``, ``vp``...)."""
    return {name.split("_chunk_")[1]: body for name, body in _functions(source).items()
            if name.startswith("sj_bwd_") and "_chunk_" in name}


@pytest.mark.parametrize("mode", ["s", "v"])
def test_a_time_invariant_factor_of_a_parameter_gradient_multiplies_once_per_neuron(mode):
    """PLIF's w gradient is -(E / (1 + exp(w))) with E = grad_h (h - v): the kernel sums E over time and multiplies
    the sum by the hoisted reciprocal of 1 + exp(w), so a step keeps one division (the surrogate's) and no
    multiplication by the parameter's factor."""
    spec = MultiStepSpec("plif", "ATan", (), False, False, False)
    body = _chunk_bodies(codegen.kernels_source(spec.program, [spec.surrogate_program], "f32"))[mode + "o"]
    step_lines = [line for line in body.splitlines() if "c_w +=" in line]  # the running sum of one step
    assert len(step_lines) == body.count("gx[") >= 2  # one per step printed (tiles, single steps, step 0)
    assert all("/" not in line and "q_hp" not in line for line in step_lines), step_lines
    # per neuron after the time loop: stored (a per-neuron w, only where one is possible) or summed into the chunk's
    # slot (a scalar w)
    final = [line for line in body.splitlines() if "a->grad_params[2][i0 + j] =" in line or "sum +=" in line]
    assert len(final) == (2 if mode == "v" else 1), final
    assert all(re.search(r"T > 0 \? acc_w\[j\] \* q_hp\d+ : 0\)?;", line) for line in final), final


def _split_at_time_loop(body: str) -> tuple[str, str]:
    """(what runs before the time loop, the time loop and after): split after the line the generator marks as the
    loop's first."""
    i = body.index("\n", body.index("/* time loop */"))
    return body[:i], body[i:]


@pytest.mark.parametrize("mode", ["s", "v"])
def test_a_division_by_a_time_invariant_value_is_a_multiplication_by_its_hoisted_reciprocal(mode):
    """LIF's h = v + (x - (v - v_reset)) / tau: the time loop multiplies by 1/tau, computed before it (once per chunk
    with scalar parameters, once per neuron with per-neuron ones); the only division left in LIF's ATan backward
    is the surrogate's, whose divisor changes every step."""
    spec = MultiStepSpec("lif", "ATan", (), False, False, False)
    fns = _functions(codegen.kernels_source(spec.program, [spec.surrogate_program], "f32"))
    fwd = next(b for name, b in fns.items() if name.startswith("sj_fwd_") and name.endswith(f"_body_{mode}"))
    before, loop = _split_at_time_loop(fwd)
    assert "/" not in loop, loop
    assert re.search(r"q_hp\d+ = \(\(1\.0f\) / \(q_tau\)\)", before), before
    bwd = next(b for name, b in fns.items() if name.startswith("sj_bwd_") and name.endswith(f"_chunk_{mode}"))
    _, loop = _split_at_time_loop(bwd)
    assert loop.count(" / ") == loop.count("gx[") >= 2, loop  # the surrogate's, once per step printed


def test_kernel_symbols_name_the_program_content_not_only_the_declaration():
    """Another derivation of the same declaration (e.g. from an older sj-core) gets other symbol names, so a
    library built from it is not used for this program (its kernels are compiled afresh instead)."""
    spec = MultiStepSpec("plif", "ATan", (), False, False, False)
    prog, sprog = spec.program, spec.surrogate_program
    other = json.loads(json.dumps(prog))
    other["backward"] = [*other["backward"][:-1], [other["backward"][-1][0], 0]]
    assert other["hash"] == prog["hash"]
    assert codegen.forward_symbol(other, "f32") != codegen.forward_symbol(prog, "f32")
    assert codegen.backward_symbol(other, sprog, "f32") != codegen.backward_symbol(prog, sprog, "f32")
    assert codegen.forward_symbol(json.loads(json.dumps(prog)), "f32") == codegen.forward_symbol(prog, "f32")
