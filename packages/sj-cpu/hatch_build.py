"""Hatchling build hook: generate the C kernels from sj-core's declarations and compile them into the wheel.

sj-core is found as the sibling source tree (``../sj-core/src``, the monorepo) or, failing that, as an installed
package; only its torch-free modules (``sj.codegen``) and its shipped ``derived_builtin.json`` are used, so the
isolated build environment needs neither torch nor sympy. The C compiler is ``$SJ_CPU_CC``/``$CC``/``cc``; OpenMP is
used where it supports it. The build never fails an install (:func:`sj.cpu.prebuilt.build_or_explain`): kernels that
do not compile with warnings as errors are built without ``-Werror``, and without a working compiler the wheel has
no kernels and a note saying why. ``SJ_CPU_SKIP_BUILD=1`` builds without kernels on purpose (every call then
compiles at run time or falls back to the reference backend, as ``sj backends`` reports). ``SJ_CPU_MARCH=native``
(or e.g. ``x86-64-v3``) builds for that instruction set instead of the portable baseline: about 2× faster kernels,
for local installs.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

HERE = Path(__file__).resolve().parent


def _import_generator():
    """Import :mod:`sj.cpu.prebuilt` with sj-core's sources visible, without importing torch."""
    for path in (HERE / "src", HERE.parent / "sj-core" / "src"):
        if path.is_dir() and str(path) not in sys.path:
            sys.path.insert(0, str(path))
    importlib.invalidate_caches()
    import sj  # noqa: F401 - namespace package spanning both source trees

    prebuilt = importlib.import_module("sj.cpu.prebuilt")
    derived = None
    for root in sys.modules["sj"].__path__:
        cand = Path(root) / "neuron" / "derived_builtin.json"
        if cand.exists():
            derived = cand
            break
    if derived is None:
        raise RuntimeError("sj-cpu build: sj-core's neuron/derived_builtin.json not found (need ../sj-core/src "
                           "or an installed sj-core)")
    return prebuilt, derived


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        if os.environ.get("SJ_CPU_SKIP_BUILD", "") not in ("", "0"):
            self.app.display_warning("sj-cpu: SJ_CPU_SKIP_BUILD set, building without prebuilt kernels")
            return
        prebuilt, derived = _import_generator()
        out = HERE / "src" / "sj" / "cpu" / "_lib" / prebuilt.library_name()
        jobs = max(1, min(os.cpu_count() or 1, 8))
        self.app.display_info(f"sj-cpu: generating and compiling kernels from {derived} ({jobs} jobs)")
        with tempfile.TemporaryDirectory(prefix="sj-cpu-build-") as tmp:
            built = prebuilt.build_or_explain(derived, out, Path(tmp), jobs=jobs,
                                              march=os.environ.get("SJ_CPU_MARCH") or None,
                                              warn=self.app.display_warning)
        # an editable install loads the library (or the note saying why there is none) from the source tree
        shipped = out if built else prebuilt.no_kernels_note(out)
        if version != "editable":
            build_data["force_include"][str(shipped)] = f"sj/cpu/_lib/{shipped.name}"
        if built:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
