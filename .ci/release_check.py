"""Release check: build every package's sdist and wheel, check their metadata, and install packages à la carte from the
built files into fresh virtual environments, as a user would from an index, then run a smoke test in each.

    python3 .ci/release_check.py [--keep DIR]

- sdists of every package, wheels of the pure-Python ones (``python -m hatchling build``); sj-cpu's wheel is built by
  pip from its sdist alone, in an isolated build environment, as ``pip install sj-cpu`` from an sdist would (the
  hot-set kernels compile there).
- metadata: name, version, licence, ``Requires-Python``, dependencies (never torchvision/torchaudio; plug-ins need only
  sj-core among sj packages), the ``sj`` entry point of each plug-in, no ``sj/__init__.py`` (``sj`` is a namespace
  package), sj-cpu's library in its wheel (≤ 8 MB, platform-tagged) and the generator inputs in its sdist.
- fresh virtual environments (``torch==2.13.0``, the CPU build, from the local wheel): ``sj-core`` + ``sj-triton``
  and ``sj-core`` + ``sj-cpu`` (from the wheel built from its sdist); each runs its backend against the ``torch``
  reference and checks that the other plug-in is absent.
Exit status 0 when every check passed; the first failure stops the run with its output.
"""

from __future__ import annotations

import argparse
import email.parser
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))
TORCH = "torch==2.13.0"
MAX_CPU_LIBRARY = 8 * 1024 * 1024
FORBIDDEN = ("torchvision", "torchaudio")

SMOKE = {
    "triton": """
import importlib.util, os, torch
os.environ.setdefault("TRITON_INTERPRET", "1")
from sj.backends.registry import status
from sj.ops import multistep
assert importlib.util.find_spec("sj.cpu") is None, "sj-cpu must not be installed here"
rows = {r.name: r for r in status()}
assert set(rows) == {"torch", "triton"}, sorted(rows)
x = torch.randint(0, 64, (4, 3, 40)) / 32  # on a grid: the arithmetic is exact, the spikes must be equal
got, want = (multistep("lif", x, [torch.zeros(3, 40)], [1.0, 0.0, 2.0], surrogate="ATan", surrogate_params=[2.0],
                       backend=b)[0] for b in ("triton", "torch"))
assert torch.equal(got, want)
print("sj-core + sj-triton: triton (interpreter) equals torch")
""",
    "cpu": """
import importlib.util, sys, torch
from pathlib import Path
from sj.backends.registry import get_backend, status
from sj.ops import multistep
assert importlib.util.find_spec("sj.triton") is None, "sj-triton must not be installed here"
assert {r.name for r in status()} == {"torch", "cpu"}
cpu = get_backend("cpu")
lib, reason = cpu.loader.prebuilt()
assert lib is not None, reason
assert Path(sys.prefix) in cpu.loader.library_path.parents, cpu.loader.library_path
for dtype, neuron, params in ((torch.float32, "lif", [1.0, 0.0, 2.0]), (torch.float64, "if_", [1.0, 0.0])):
    x = (torch.randint(0, 64, (4, 3, 40)) / 32).to(dtype).requires_grad_()
    outs = []
    for backend in ("cpu", "torch"):
        s, last, _ = multistep(neuron, x, [torch.zeros(3, 40, dtype=dtype)], params, surrogate="ATan",
                               surrogate_params=[2.0], backend=backend)
        g, = torch.autograd.grad((s * torch.arange(40.0, dtype=dtype)).sum() + last[0].sum(), x)
        outs.append((s, g))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.allclose(outs[0][1], outs[1][1], atol=1e-6)
assert not cpu.fallbacks, cpu.fallbacks
print("sj-core + sj-cpu: prebuilt hot set and a configuration compiled on first use equal torch;",
      cpu.details().split(" | ")[0])
""",
}


def run(cmd: list[str], **kw) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise SystemExit(f"release check: {' '.join(map(str, cmd))} failed (exit {res.returncode}):\n"
                         f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res.stdout


def build(dist: Path, work: Path) -> None:
    """sdists of every package, wheels of the pure-Python ones, sj-cpu's wheel from its sdist."""
    for pkg in PACKAGES:
        targets = ["-t", "sdist"] if pkg.name == "sj-cpu" else ["-t", "sdist", "-t", "wheel"]
        run([sys.executable, "-m", "hatchling", "build", *targets, "-d", str(dist)], cwd=pkg)
    sdist = next(dist.glob("sj_cpu-*.tar.gz"))
    # only the sdist, in a directory of its own: the build cannot see the checkout
    alone = work / "sdist-only"
    alone.mkdir()
    shutil.copy(sdist, alone)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(alone / sdist.name)],
        cwd=alone)


def _metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        eps = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        return (email.parser.Parser().parsestr(z.read(meta).decode()),
                z.read(eps[0]).decode() if eps else "", z.infolist())


def check_metadata(dist: Path) -> list[str]:
    problems = []
    for pkg in PACKAGES:
        stem = pkg.name.replace("-", "_")
        wheels = list(dist.glob(f"{stem}-*.whl"))
        sdists = list(dist.glob(f"{stem}-*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            problems.append(f"{pkg.name}: expected one wheel and one sdist, got {wheels + sdists}")
            continue
        meta, entry_points, files = _metadata(wheels[0])
        names = [f.filename for f in files]
        if meta["Name"] != pkg.name or not meta["Version"]:
            problems.append(f"{pkg.name}: wheel names {meta['Name']} {meta['Version']}")
        if not (meta.get("License-Expression") or meta.get("License")):
            problems.append(f"{pkg.name}: no licence in the metadata")
        if not meta.get("Requires-Python"):
            problems.append(f"{pkg.name}: no Requires-Python")
        requires = [r.split(";")[0].strip() for r in meta.get_all("Requires-Dist") or []]
        for r in requires:
            name = r.split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].split("~")[0].strip()
            if name.lower() in FORBIDDEN:
                problems.append(f"{pkg.name}: depends on {name}, which does not load beside the CPU build of torch")
            if name.startswith("sj-") and name != "sj-core":
                problems.append(f"{pkg.name}: depends on the plug-in {name} (plug-ins never depend on each other)")
        if pkg.name != "sj-core" and "[sj]" not in entry_points:
            problems.append(f"{pkg.name}: no entry point in the group 'sj'")
        if "sj/__init__.py" in names:
            problems.append(f"{pkg.name}: ships sj/__init__.py (sj is a namespace package)")
        if pkg.name == "sj-cpu":
            lib = [f for f in files if f.filename.startswith("sj/cpu/_lib/libsjcpu")]
            if not lib:
                problems.append(f"sj-cpu: the wheel built from the sdist has no kernel library: {names}")
            elif lib[0].file_size > MAX_CPU_LIBRARY:
                problems.append(f"sj-cpu: kernel library of {lib[0].file_size} bytes (limit {MAX_CPU_LIBRARY})")
            if wheels[0].name.endswith("-any.whl"):
                problems.append(f"sj-cpu: {wheels[0].name} is not platform-tagged")
            listing = run(["tar", "tzf", str(sdists[0])])
            for need in ("_sjcore/sj/codegen/ir.py", "_sjcore/sj/cache.py", "_sjcore/sj/neuron/derived_builtin.json",
                         "hatch_build.py"):
                if need not in listing:
                    problems.append(f"sj-cpu: its sdist lacks {need} (a wheel cannot be built from it alone)")
            print(f"sj-cpu wheel {wheels[0].name}: library {lib[0].file_size / 2**20:.1f} MB" if lib else "")
    return problems


def smoke(dist: Path, work: Path, plugin: str) -> str:
    venv = work / f"venv-{plugin}"
    t0 = time.perf_counter()
    run([sys.executable, "-m", "venv", str(venv)])
    py = str(venv / "bin" / "python")
    files = [str(next(dist.glob("sj_core-*.whl"))), str(next(dist.glob(f"sj_{plugin}-*.whl")))]
    run([py, "-m", "pip", "install", "-q", "--no-compile", TORCH, *files])
    env = {**os.environ, "SJ_CACHE_DIR": str(work / f"cache-{plugin}")}  # never the user's own cache
    out = run([py, "-c", SMOKE[plugin]], cwd=work, env=env)
    return f"{out.strip()} ({time.perf_counter() - t0:.0f} s with the environment)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build into this directory and keep it")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="sj-release-"))
    work.mkdir(parents=True, exist_ok=True)
    dist = work / "dist"
    try:
        t0 = time.perf_counter()
        build(dist, work)
        print(f"built {len(list(dist.iterdir()))} files in {time.perf_counter() - t0:.0f} s")
        problems = check_metadata(dist)
        if problems:
            print("release check: metadata problems:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        with ThreadPoolExecutor(2) as pool:
            for line in pool.map(lambda p: smoke(dist, work, p), ("triton", "cpu")):
                print(line)
        print("release check passed")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
