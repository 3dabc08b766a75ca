"""Compile the generated kernels ahead of time for chosen GPU architectures, without a GPU (no driver needed).

``python -m sj.triton.aot [--full] [--archs 80 90] [--dtypes fp16 bf16 fp32] [--jobs N] [--json out.json]`` compiles
each kernel exactly as sj-triton does at run time (:func:`sj.triton.specialize.compile_variant`, the block size the
launcher picks for a large layer) and checks it: PTX and CUBIN for the requested ``sm_<arch>``, the requested warp
count, and 16-byte vector loads and stores wherever the variant is aligned and moves sequences. Exit status 1 when
any kernel fails.

- :func:`covering_set` (default): per dtype, the forward of every built-in neuron (and the conformance kit's custom
  neuron) and the backward of every surrogate, each surrogate paired with a neuron (the pairing shifted per dtype),
  reset modes and kernel flags varied along the set, plus the unaligned specialisation (odd ``N``, offset views) of
  LIF's forward and backward: about a minute for fp16/bf16/fp32 × sm_80/sm_90 on 2 cores; the tests compile it.
- :func:`full_product` (``--full``): every neuron × every surrogate (backward) and every neuron (forward) per dtype,
  aligned and unaligned: about 1000 compilations for 3 dtypes × 2 architectures (``--jobs`` processes share them;
  ``benchmarks/gpu_check.sh`` runs it).

``T`` is never specialised (a runtime loop bound), so no ``T = 1`` variant exists to compile. Must run without
``TRITON_INTERPRET=1``: Triton decorates its own library for the interpreter when that is set at import.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import torch

from sj.triton import tuning
from sj.triton.specialize import Variant, backward_variant, compile_variant, forward_variant

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32, "fp64": torch.float64}
LARGE_N = 1 << 22  # the launcher's default block size for a large layer


@dataclass(frozen=True)
class Case:
    """One kernel to compile: a neuron × surrogate × reset configuration and a kernel variant."""

    neuron: str
    surrogate: str
    soft_reset: bool
    detach_reset: bool
    variant: Variant

    def spec(self):
        from sj.ops import MultiStepSpec
        from sj.surrogate.declarations import surrogates

        return MultiStepSpec(self.neuron, self.surrogate, surrogates.get(self.surrogate).defaults, self.soft_reset,
                             self.detach_reset, False)

    def describe(self) -> str:
        v = self.variant
        reset = ("soft" if self.soft_reset else "hard") + ("+detach" if self.detach_reset else "")
        return (f"{v.kind} {self.neuron}/{self.surrogate}/{reset} {str(v.dtype)[6:]} "
                f"{'aligned' if v.aligned else 'unaligned'} flags={''.join('1' if f else '0' for f in v.flags)}")


def _neurons() -> list[str]:
    import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
    from sj.neuron.builtin import BUILTIN_NEURONS
    from sj.testing import CUSTOM_NEURON

    return [*BUILTIN_NEURONS, CUSTOM_NEURON.name]


def _surrogates() -> list[str]:
    from sj.surrogate.declarations import BUILTIN_SURROGATES

    return list(BUILTIN_SURROGATES)


def _counts(neuron: str) -> tuple[int, int]:
    from sj.neuron.derived import neuron_program

    prog = neuron_program(neuron, False, False)
    return len(prog["params"]), len(prog["states"])


def _forward(dtype: torch.dtype, neuron: str, k: int, aligned: bool = True) -> Case:
    n_params, _ = _counts(neuron)
    full = tuple((k + i) % 3 == 0 for i in range(n_params))
    v = forward_variant(dtype, full, k % 2 == 0, k % 3 == 0, aligned, tuning.default_config(dtype, LARGE_N))
    return Case(neuron, "ATan", k % 2 == 1, k % 4 >= 2, v)


def _backward(dtype: torch.dtype, neuron: str, surrogate: str, k: int, aligned: bool = True) -> Case:
    n_params, n_states = _counts(neuron)
    grad = tuple((k + i) % 2 == 0 for i in range(n_params))
    full = tuple((k + i) % 3 == 1 for i in range(n_params))
    v = backward_variant(dtype, full, grad, (k % 3 != 0,) * n_states, k % 2 == 1, aligned,
                         tuning.default_config(dtype, LARGE_N))
    return Case(neuron, surrogate, k % 2 == 0, k % 4 >= 2, v)


def covering_set(dtype: torch.dtype) -> list[Case]:
    """Every neuron's forward, every surrogate's backward and LIF's unaligned pair in ``dtype`` (module docstring)."""
    neurons, shift = _neurons(), list(DTYPES.values()).index(dtype) * 5
    cases = [_forward(dtype, neuron, k) for k, neuron in enumerate(neurons)]
    cases += [_backward(dtype, neurons[(k + shift) % len(neurons)], s, k) for k, s in enumerate(_surrogates())]
    cases += [_forward(dtype, "lif", 0, aligned=False), _backward(dtype, "lif", "Sigmoid", 1, aligned=False)]
    return cases


def full_product(dtype: torch.dtype) -> list[Case]:
    """Every neuron's forward and every neuron × surrogate backward in ``dtype``, aligned and unaligned."""
    cases = []
    for aligned in (True, False):
        for k, neuron in enumerate(_neurons()):
            cases.append(_forward(dtype, neuron, k, aligned))
            cases += [_backward(dtype, neuron, s, k + j, aligned) for j, s in enumerate(_surrogates())]
    return cases


def vector_accesses(ptx: str) -> tuple[bool, bool]:
    """Whether the PTX has a 16-byte vector load, and a 16-byte vector store (``.v4.b32``, ``.v2.b64``)."""
    found = set(re.findall(r"(ld|st)\.global(?:\.\w+)*\.(?:v4\.b32|v2\.b64)", ptx))
    return "ld" in found, "st" in found


def compile_case(case: Case, arch: int) -> dict:
    """Compile ``case`` for ``sm_<arch>`` and check it; a dict with ``ok`` and, when not, ``error``."""
    from sj.triton.launch import kernels_for
    from triton.backends.compiler import GPUTarget

    v = case.variant
    row = {"case": case.describe(), "arch": arch, "ok": False}
    try:
        compiled = compile_variant(kernels_for(case.spec()), v, GPUTarget("cuda", arch, 32))
        ptx = compiled.asm["ptx"]
        loads, stores = vector_accesses(ptx)
        row.update(vector_loads=loads, vector_stores=stores, cubin_bytes=len(compiled.asm["cubin"]))
        problems = []
        if f".target sm_{arch}" not in ptx:
            problems.append(f"PTX is not for sm_{arch}")
        if compiled.metadata.num_warps != v.num_warps:
            problems.append(f"{compiled.metadata.num_warps} warps, asked for {v.num_warps}")
        if not compiled.asm["cubin"]:
            problems.append("empty CUBIN")
        if v.aligned and not (loads and stores):
            problems.append("aligned variant without 16-byte vector loads and stores")
        row["ok"] = not problems
        if problems:
            row["error"] = "; ".join(problems)
    except Exception as exc:  # a compile error is a result to report, not a reason to stop the others
        row["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    return row


def _compile_star(args: tuple[Case, int]) -> dict:
    return compile_case(*args)


def compile_all(cases: list[Case], archs: list[int], jobs: int = 1) -> list[dict]:
    """Compile every case for every architecture, in ``jobs`` processes; one result row each."""
    work = [(c, a) for a in archs for c in cases]
    if jobs <= 1:
        return [compile_case(c, a) for c, a in work]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_compile_star, work, chunksize=4))


def main(argv: list[str] | None = None) -> int:
    """The ``python -m sj.triton.aot`` command (arguments in the module docstring; ``argv`` defaults to
    ``sys.argv[1:]``): compile and check the kernels, print a summary line per failure and a total. Returns the exit
    status: 0 when every kernel compiled and passed its checks, 1 when one did not, 2 under ``TRITON_INTERPRET=1``."""
    from sj.triton.loader import interpreting

    p = argparse.ArgumentParser(prog="python -m sj.triton.aot", description=__doc__.splitlines()[0])
    p.add_argument("--full", action="store_true", help="the full product instead of the covering set")
    p.add_argument("--archs", type=int, nargs="+", default=[80, 90])
    p.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=["fp16", "bf16", "fp32"])
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--json", help="write every result row to this file")
    args = p.parse_args(argv)
    if interpreting():
        print("sj.triton.aot: unset TRITON_INTERPRET (kernels are compiled here, not interpreted)", file=sys.stderr)
        return 2
    cases = [c for d in args.dtypes for c in (full_product if args.full else covering_set)(DTYPES[d])]
    rows = compile_all(cases, args.archs, args.jobs)
    failed = [r for r in rows if not r["ok"]]
    for r in failed:
        print(f"FAILED sm_{r['arch']} {r['case']}: {r['error']}")
    print(f"sj.triton.aot: {len(rows) - len(failed)} of {len(rows)} kernels compiled and checked "
          f"({'full product' if args.full else 'covering set'}, sm_{'/sm_'.join(map(str, args.archs))}, "
          f"{' '.join(args.dtypes)})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
