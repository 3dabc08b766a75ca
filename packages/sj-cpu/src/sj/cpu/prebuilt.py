"""The prebuilt kernel library: every built-in single-state neuron × reset × detach × surrogate × {float32, float64}.

Multi-state built-ins (``izhikevich``, ``cuba_lif``) are compiled on first use like user declarations, which keeps
the wheel build shorter (the library takes about 15 min on two cores; 81 MB).

Torch-free: the wheel's build hook (``hatch_build.py``) calls :func:`build_library` with sj-core's shipped
``derived_builtin.json``. One translation unit per neuron and scalar type keeps compilation parallel.
"""

from __future__ import annotations

import json
from pathlib import Path

from sj.cpu import codegen, compiler

LIBRARY_STEM = "libsjcpu"


def library_name() -> str:
    """File name of the prebuilt library (``libsjcpu.so`` on Linux)."""
    return LIBRARY_STEM + compiler.library_suffix()


def split_derived(derived: dict) -> tuple[list[dict], list[dict]]:
    """Single-state neuron programs and surrogate programs of ``derived_builtin.json``'s content."""
    neurons = [v for k, v in sorted(derived.items()) if k.startswith("neuron-") and len(v["states"]) == 1]
    surrogates = [v for k, v in sorted(derived.items()) if k.startswith("surrogate-")]
    if not neurons or not surrogates:
        raise ValueError("derived programs hold no neuron or no surrogate (is derived_builtin.json complete?)")
    return neurons, surrogates


def write_sources(derived: dict, outdir: Path) -> list[Path]:
    """Write the library's C sources into ``outdir``; returns their paths (one per neuron and scalar type)."""
    neurons, surrogates = split_derived(derived)
    by_neuron: dict[str, list[dict]] = {}
    for prog in neurons:
        by_neuron.setdefault(prog["neuron"], []).append(prog)
    outdir.mkdir(parents=True, exist_ok=True)
    abi = outdir / "abi.c"
    abi.write_text(codegen.header() + codegen.abi_function())
    paths = [abi]
    for name, progs in sorted(by_neuron.items()):
        for suffix in codegen.SCALARS:
            src = codegen.translation_unit([(p, surrogates) for p in progs], (suffix,), with_abi=False)
            path = outdir / f"{name}_{suffix}.c"
            path.write_text(src)
            paths.append(path)
    return paths


def build_library(derived_json: Path, output: Path, workdir: Path, *, jobs: int = 1, werror: bool = True,
                  march: str | None = None) -> Path:
    """Generate and compile the prebuilt library from ``derived_json`` into ``output`` (``march``: see
    :func:`sj.cpu.compiler.compile_objects`)."""
    derived = json.loads(derived_json.read_text())
    sources = write_sources(derived, workdir)
    output.parent.mkdir(parents=True, exist_ok=True)
    compiler.compile_objects(sources, output, werror=werror, jobs=jobs, march=march)
    return output
