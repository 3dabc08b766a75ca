"""Hatchling build hook: generate the hot set's C kernels from sj-core's declarations and compile them into the wheel.

The generator needs only sj-core's torch-free modules (``sj.codegen``) and its shipped ``derived_builtin.json``. They
are found, in order, in the source distribution (which carries a copy under ``_sjcore/``, so a wheel builds from the
sdist alone in pip's isolated build environment), in the sibling source tree (``../sj-core/src``, the monorepo), or
as an installed sj-core. The C compiler is ``$SJ_CPU_CC``/``$CC``/``cc``; OpenMP is used where it supports it.

The library is compiled in a temporary directory, never in the source tree, and included in the wheel at
``sj/cpu/_lib/`` — in an editable install too (``force_include_editable``), so each environment installed from one
checkout has its own library and rebuilding one environment never touches another's.

The build never fails an install (:func:`sj.cpu.prebuilt.build_or_explain`): kernels that do not compile with
warnings as errors are built without ``-Werror``, and without a working compiler the wheel has no kernels and a note
saying why. ``SJ_CPU_SKIP_BUILD=1`` builds without kernels on purpose (every call then compiles at run time or falls
back to the reference backend, as ``sj backends`` reports). ``SJ_CPU_MARCH=native`` (or e.g. ``x86-64-v3``) builds for
that instruction set instead of the portable baseline with AVX2/AVX-512 clones.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HERE = Path(__file__).resolve().parent
VENDORED = HERE / "_sjcore"  # the sdist's copy of sj-core's torch-free generator inputs


def _import_generator():
    """Import :mod:`sj.cpu.prebuilt` with sj-core's generator visible, without importing torch; returns it and the
    path of ``derived_builtin.json``."""
    for path in (HERE / "src", VENDORED, HERE.parent / "sj-core" / "src"):
        if path.is_dir() and str(path) not in sys.path:
            sys.path.insert(0, str(path))
    importlib.invalidate_caches()
    import sj  # noqa: F401 - namespace package spanning the source trees

    prebuilt = importlib.import_module("sj.cpu.prebuilt")
    for root in sys.modules["sj"].__path__:
        cand = Path(root) / "neuron" / "derived_builtin.json"
        if cand.exists():
            return prebuilt, cand
    raise RuntimeError("sj-cpu build: sj-core's neuron/derived_builtin.json not found (need the sdist's _sjcore/, "
                       "../sj-core/src or an installed sj-core)")


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        self._workdir: str | None = None
        if self.target_name != "wheel":
            return
        if os.environ.get("SJ_CPU_SKIP_BUILD", "") not in ("", "0"):
            self.app.display_warning("sj-cpu: SJ_CPU_SKIP_BUILD set, building without prebuilt kernels")
            return
        prebuilt, derived = _import_generator()
        self._workdir = tempfile.mkdtemp(prefix="sj-cpu-build-")
        out = Path(self._workdir) / "lib" / prebuilt.library_name()
        jobs = max(1, min(os.cpu_count() or 1, 8))
        self.app.display_info(f"sj-cpu: generating and compiling the hot-set kernels from {derived} ({jobs} jobs)")
        built = prebuilt.build_or_explain(derived, out, Path(self._workdir) / "src", jobs=jobs,
                                          march=os.environ.get("SJ_CPU_MARCH") or None,
                                          warn=self.app.display_warning)
        shipped = out if built else prebuilt.no_kernels_note(out)
        included = "force_include_editable" if version == "editable" else "force_include"
        build_data[included][str(shipped)] = f"sj/cpu/_lib/{shipped.name}"
        if built:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
