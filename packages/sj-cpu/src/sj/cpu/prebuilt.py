"""The prebuilt kernel library: the hot set every wheel ships, compiled when the wheel is built.

The hot set is what almost every user runs: the IF, LIF and PLIF neurons × the Sigmoid and ATan surrogates × hard
and soft reset × detached or not, in float32 (the demo's LIF/ATan and the zoo's usual neurons among them). It builds
in well under a minute on two cores and keeps the library a few MB. Every other configuration (other neurons and
surrogates, float64, user declarations) is generated and compiled on first use, one small library per
configuration, kept in the user's cache (:func:`sj.cpu.compiler.cached_library`).

Torch-free: the wheel's build hook (``hatch_build.py``) calls :func:`build_library` with sj-core's shipped
``derived_builtin.json``. One translation unit per neuron program (reset mode and detach choice) and scalar type
keeps compilation parallel.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from sj.cpu import codegen, compiler

LIBRARY_STEM = "libsjcpu"
HOT_NEURONS = ("if_", "lif", "plif")
HOT_SURROGATES = ("Sigmoid", "ATan")
HOT_SUFFIXES = ("f32",)


def library_name() -> str:
    """File name of the prebuilt library (``libsjcpu.so`` on Linux)."""
    return LIBRARY_STEM + compiler.library_suffix()


def hot_set(derived: dict) -> list[tuple[dict, list[dict]]]:
    """``(neuron program, [surrogate programs])`` of the hot set found in ``derived_builtin.json``'s content: every
    reset mode and detach choice of each neuron of :data:`HOT_NEURONS`, with the surrogates of
    :data:`HOT_SURROGATES` (a complete file has them all; sj-core's tests check it)."""
    neurons = [v for k, v in sorted(derived.items()) if k.startswith("neuron-") and v["neuron"] in HOT_NEURONS]
    surrogates = [v for k, v in sorted(derived.items())
                  if k.startswith("surrogate-") and v["surrogate"] in HOT_SURROGATES]
    if not neurons or not surrogates:
        raise ValueError("derived programs hold no hot-set neuron or no hot-set surrogate (is derived_builtin.json "
                         "complete?)")
    return [(p, surrogates) for p in neurons]


def _unit_name(program: dict, suffix: str) -> str:
    reset = "soft" if program["soft_reset"] else "hard"
    return f"{program['neuron']}_{reset}_d{int(program['detach_reset'])}_{suffix}.c"


def kernel_sources(derived: dict) -> dict[str, str]:
    """The library's kernel sources by file name (one per hot neuron program and scalar type; ``abi.c`` is written
    apart)."""
    return {_unit_name(prog, suffix): codegen.translation_unit([(prog, sgs)], (suffix,), with_abi=False)
            for prog, sgs in hot_set(derived) for suffix in HOT_SUFFIXES}


def sources_digest(sources: dict[str, str]) -> str:
    """SHA-256 of the kernel sources (names and texts): what a library's build record names."""
    h = hashlib.sha256()
    for name, text in sorted(sources.items()):
        h.update(f"{name}\0{len(text)}\0".encode())
        h.update(text.encode())
    return h.hexdigest()


def build_record(digest: str, flags: list[str]) -> str:
    """The text ``sj_cpu_build_record()`` returns: ``sources=<digest> flags=<compiler flags>``."""
    return f"sources={digest} flags={' '.join(flags)}"


def parse_build_record(text: str) -> tuple[str, list[str]]:
    """``(sources digest, compiler flags)`` of a :func:`build_record` text."""
    head, _, flags = text.partition(" flags=")
    if not head.startswith("sources="):
        raise ValueError(f"not a build record: {text!r}")
    return head[len("sources="):], flags.split()


def write_sources(derived: dict, outdir: Path, flags: list[str] | None = None) -> list[Path]:
    """Write the library's C sources into ``outdir``; returns their paths (``abi.c``, then one per neuron program and
    scalar type). ``abi.c`` also defines ``sj_cpu_build_record()``, naming the kernel sources' digest and ``flags`` (the
    compiler flags they are built with), so a test can tell whether an installed library is today's code built with
    warnings as errors without compiling it again."""
    sources = kernel_sources(derived)
    outdir.mkdir(parents=True, exist_ok=True)
    record = build_record(sources_digest(sources), flags or []).replace("\\", "\\\\").replace('"', '\\"')
    abi = outdir / "abi.c"
    abi.write_text(codegen.header() + codegen.abi_function() + "SJ_EXPORT const char *sj_cpu_build_record(void);\n"
                   f'SJ_EXPORT const char *sj_cpu_build_record(void) {{ return "{record}"; }}\n')
    paths = [abi]
    for name, text in sources.items():
        path = outdir / name
        path.write_text(text)
        paths.append(path)
    return paths


def build_library(derived_json: Path, output: Path, workdir: Path, *, jobs: int = 1, werror: bool = True,
                  march: str | None = None) -> Path:
    """Generate and compile the prebuilt library from ``derived_json`` into ``output`` (``march``: see
    :func:`sj.cpu.compiler.compile_objects`)."""
    cmd = compiler.find_compiler()
    if cmd is None:
        raise compiler.CompileError(compiler.compiler_reason())
    derived = json.loads(derived_json.read_text())
    sources = write_sources(derived, workdir, compiler.flags_for(cmd, werror=werror, march=march))
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.compile_objects(sources, output, werror=werror, jobs=jobs, march=march, compiler=cmd)
    return output


def no_kernels_note(output: Path) -> Path:
    """Where a build that could not compile the library ``output`` says why (read by :class:`sj.cpu.library.Loader`
    and by the tests, so that a failed build is never mistaken for a deliberate ``SJ_CPU_SKIP_BUILD``)."""
    return output.with_name(output.name + ".missing.txt")


def build_or_explain(derived_json: Path, output: Path, workdir: Path, *, jobs: int = 1, march: str | None = None,
                     warn: Callable[[str], None] = print) -> bool:
    """The build hook's build, which never fails an install: compile the library with warnings as errors; if that
    fails (a compiler whose warnings differ from the ones tested), again without ``-Werror``; if that fails too, or
    there is no C compiler, leave no library and write :func:`no_kernels_note` with the reason (every call then
    compiles at run time or falls back to the reference backend, and ``sj backends`` says why). ``warn`` gets a
    message for each fallback. Returns whether the library was built."""
    note = no_kernels_note(output)
    note.unlink(missing_ok=True)
    output.unlink(missing_ok=True)  # a library left by an earlier build must not pass for this one
    reason = ""
    for werror in (True, False):
        try:
            build_library(derived_json, output, workdir / f"werror{int(werror)}", jobs=jobs, werror=werror,
                          march=march)
            return True
        except compiler.CompileError as exc:
            reason = str(exc).strip()
        if compiler.find_compiler() is None:
            break
        if werror:
            warn(f"sj-cpu: the kernels did not compile with warnings as errors; building them without -Werror. "
                 f"The compiler said: {reason[-2000:]}")
    output.unlink(missing_ok=True)
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(reason + "\n")
    warn(f"sj-cpu: building without prebuilt kernels (calls compile at run time where a compiler works, else fall back "
         f"to the torch reference; `sj backends` says why): {reason[-2000:]}")
    return False
