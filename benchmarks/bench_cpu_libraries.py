"""A/B of sj-cpu kernel libraries: the same kernels from two or more compiled libraries (e.g. the installed one and
one built from a changed generator), called directly (``CpuBackend.forward``/``backward``: no autograd, no
validation), each as time / floor in interleaved rounds, so a drift of the machine affects every library alike.

Passes: ``fwd`` (inference: nothing saved), ``fwdH`` (forward saving H, as under autograd), ``bwd`` (backward with
the neuron's own parameter gradients: LIF's ``tau``, PLIF's ``w``). Before timing, every library's results are
checked against the first one's (spikes equal, the rest within float32 rounding).

A library is a path to a compiled one, ``installed`` (the package's own), or a source tree (a checkout of this
repository, e.g. ``git worktree add /tmp/old HEAD~1``): its generator and derivations are built, in a subprocess, into
a library of just the neurons and surrogate compared (float32; about a minute on 2 cores, cached by content under
``/tmp/sj-cpu-libraries``), with the wheel's flags.

Run: ``python benchmarks/bench_cpu_libraries.py --library /tmp/old --library installed [--shape 16,18]
[--pass fwd --pass bwd] [--neuron lif] [--surrogate ATan]``.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
from sj.backends.base import BackwardInputs
from sj.cache import cache_root
from sj.cpu import library
from sj.cpu.backend import CpuBackend
from sj.ops import MultiStepSpec

PARAMS = {"if_": [1.0, 0.0], "lif": [1.0, 0.0, 2.0], "plif": [1.0, 0.0, 0.0]}
SURROGATE_PARAMS = {"ATan": (2.0,), "Sigmoid": (4.0,)}


_BUILD = """
import json, sys
from pathlib import Path
tree, out, neurons, surrogate = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(","), sys.argv[4]
sys.path.insert(0, str(tree / "packages/sj-cpu/src"))
from sj.cpu import codegen, compiler
assert Path(codegen.__file__).is_relative_to(tree), codegen.__file__  # the tree's generator, not the installed one
derived = json.loads((tree / "packages/sj-core/src/sj/neuron/derived_builtin.json").read_text())
programs = [v for k, v in sorted(derived.items()) if k.startswith("neuron-") and v["neuron"] in neurons]
surrogates = [v for k, v in derived.items() if k.startswith("surrogate-") and v["surrogate"] == surrogate]
units = [(p, surrogates) for p in programs]
work = out.with_suffix(".d")
work.mkdir(parents=True, exist_ok=True)
paths = [work / "abi.c"]
paths[0].write_text(codegen.header() + codegen.abi_function())
for k, unit in enumerate(units):
    paths.append(work / f"unit{k}.c")
    paths[-1].write_text(codegen.translation_unit([unit], ("f32",), with_abi=False))
compiler.compile_objects(paths, out, werror=True, jobs=2)
"""


def library_from_tree(tree: Path, neurons: list[str], surrogate: str) -> Path:
    """Build (once per content) a library of ``neurons`` x ``surrogate`` from the source tree ``tree``."""
    digest = hashlib.sha256()
    for part in ("packages/sj-cpu/src/sj/cpu/codegen.py", "packages/sj-cpu/src/sj/cpu/compiler.py",
                 "packages/sj-core/src/sj/neuron/derived_builtin.json"):
        digest.update((tree / part).read_bytes())
    digest.update(f"{sorted(neurons)}{surrogate}".encode())
    out = Path("/tmp/sj-cpu-libraries") / f"{digest.hexdigest()[:16]}.so"
    if not out.exists():
        print(f"# building {out} from {tree}", flush=True)
        subprocess.run([sys.executable, "-c", _BUILD, str(tree), str(out), ",".join(neurons), surrogate], check=True)
    return out


def backend_for(path: str, neurons: list[str], surrogate: str) -> CpuBackend:
    """A cpu backend whose kernels come only from ``path``: a library, ``installed`` or a source tree."""
    be = CpuBackend()
    if path != "installed":
        lib = library_from_tree(Path(path), neurons, surrogate) if Path(path).is_dir() else Path(path)
        be.loader = library.Loader(cache_root() / "cpu", lib)
    if be.loader.prebuilt()[0] is None:
        raise SystemExit(f"cannot use {path}: {be.loader.prebuilt()[1]}")
    return be


def calls(be: CpuBackend, spec, x, g, params, passes):
    states = [torch.zeros(x.shape[1])]
    spike, _, _, saved = be.forward(spec, x, states, params, True)
    need = [False, False] + [True] * (len(params) - 2)
    inputs = BackwardInputs(saved, x, states, params, need, g, [None], None)
    fns = {"fwd": lambda: be.forward(spec, x, states, params, False),
           "fwdH": lambda: be.forward(spec, x, states, params, True),
           "bwd": lambda: be.backward(spec, inputs)}
    results = [spike, saved, be.backward(spec, inputs)]
    return {p: fns[p] for p in passes}, results


def same(a, b) -> bool:
    (spike_a, saved_a, grads_a), (spike_b, saved_b, grads_b) = a, b
    flat = [*saved_a, grads_a[0], *grads_a[1], *(g for g in grads_a[2] if g is not None)]
    ref = [*saved_b, grads_b[0], *grads_b[1], *(g for g in grads_b[2] if g is not None)]
    return torch.equal(spike_a, spike_b) and all(torch.allclose(u, v, rtol=1e-4, atol=1e-5) for u, v in zip(flat, ref))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", action="append", required=True, help="a library path, or 'installed' (repeat)")
    ap.add_argument("--shape", action="append", metavar="T,LOG2N", help="default: 4,18 16,18 64,18 16,20")
    ap.add_argument("--pass", dest="passes", action="append", choices=("fwd", "fwdH", "bwd"))
    ap.add_argument("--neuron", action="append", choices=sorted(PARAMS))
    ap.add_argument("--surrogate", default="ATan", choices=sorted(SURROGATE_PARAMS))
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    neurons = args.neuron or ["if_", "lif", "plif"]
    backends = {path: backend_for(path, neurons, args.surrogate) for path in args.library}
    passes = args.passes or ["fwd", "fwdH", "bwd"]
    print(f"# torch {torch.__version__}, threads {torch.get_num_threads()}, float32, {args.surrogate}; "
          f"time / floor, medians over {args.rounds} interleaved rounds")
    print("| neuron | T | N | pass | " + " | ".join(backends) + " |")
    print("|---|---|---|---|" + "---|" * len(backends))
    for shape in args.shape or ["4,18", "16,18", "64,18", "16,20"]:
        T, log2n = (int(v) for v in shape.split(","))
        N = 1 << log2n
        x, g, y = torch.rand(T, N) * 1.5, torch.rand(T, N) - 0.5, torch.empty(T, N)
        reps = max(2, min(50, int(3e7 // (T * N))))
        for neuron in neurons:
            spec = MultiStepSpec(neuron, args.surrogate, SURROGATE_PARAMS[args.surrogate], False, False, False)
            params = [torch.tensor(v) for v in PARAMS[neuron]]
            per_lib = {p: calls(be, spec, x, g, params, passes) for p, be in backends.items()}
            first = next(iter(per_lib.values()))[1]
            for path, (_, results) in per_lib.items():
                if not same(results, first):
                    raise SystemExit(f"{path} computes other results than {args.library[0]} for {neuron} at {shape}")
            fns = {("floor", None): lambda x=x, y=y: torch.add(x, 1, out=y)}
            fns.update({(p, kind): fn for p, (f, _) in per_lib.items() for kind, fn in f.items()})
            samples: dict = {k: [] for k in fns}
            for fn in fns.values():
                fn()
            for _ in range(args.rounds):
                for key, fn in fns.items():
                    for _ in range(reps):
                        t0 = time.perf_counter()
                        fn()
                        samples[key].append(time.perf_counter() - t0)
            floor = statistics.median(samples[("floor", None)])
            for kind in passes:
                cells = [f"{statistics.median(samples[(p, kind)]) / floor:.2f}" for p in backends]
                print(f"| {neuron} | {T} | 2^{log2n} | {kind} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
