"""The build hook never fails an install: a compiler without OpenMP (Apple's clang) builds serial kernels, kernels
that do not compile with warnings as errors are built without -Werror, and without a working compiler the package has
no kernels and a note saying why, which `sj backends` shows (and the build-record test refuses in CI).

Small libraries (one neuron program, one surrogate) keep these builds to seconds; stand-in compilers are shell
scripts around the real one that reject one flag, as such compilers do."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sj.cpu import compiler, library, prebuilt
from sj.neuron.derived import _BUILTIN

pytestmark = pytest.mark.skipif(compiler.find_compiler() is None or sys.platform == "win32",
                                reason="needs a C compiler and a POSIX shell")
CHILD = Path(__file__).with_name("_cpu_child.py")


def _refusing(tmp_path: Path, flags: str, message: str) -> str:
    """A compiler command that fails with ``message`` when given one of ``flags`` (space-separated) and is the real
    compiler otherwise."""
    real = " ".join(compiler.find_compiler())
    script = tmp_path / f"cc-without{flags.replace(' ', '')}"
    script.write_text(f'#!/bin/sh\nfor a in "$@"; do for f in {flags}; do [ "$a" = "$f" ] && '
                      f'{{ echo "{message}" >&2; exit 1; }}; done; done\nexec {real} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _small_derived(tmp_path: Path) -> Path:
    """derived_builtin.json cut to the hard-reset IF neuron and the ATan surrogate."""
    full = json.loads(_BUILTIN.read_text())
    keep = {k: v for k, v in full.items()
            if (k.startswith("neuron-if_-") and k.endswith("-hard-0")) or k.startswith("surrogate-ATan-")}
    path = tmp_path / "derived.json"
    path.write_text(json.dumps(keep))
    return path


def _child(tmp_path: Path, library_path: Path, **env) -> dict:
    full = {**os.environ, "SJ_CACHE_DIR": str(tmp_path / "cache"), "SJ_CPU_LIBRARY": str(library_path), **env}
    res = subprocess.run([sys.executable, str(CHILD), "if_"], capture_output=True, text=True, env=full, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_openmp_support_is_probed():
    assert compiler.openmp_supported(tuple(compiler.find_compiler()))
    assert not compiler.openmp_supported(("/nonexistent/cc",))


@pytest.mark.parametrize(("refused", "used"), [("-fopenmp", compiler.OPENMP_SIMD),
                                              ("-fopenmp -fopenmp-simd", "-Wno-unknown-pragmas")])
def test_a_compiler_without_openmp_builds_serial_kernels(tmp_path, monkeypatch, refused, used):
    """Serial kernels, still with warnings as errors: ``omp simd`` loops keep their meaning under -fopenmp-simd, and
    a compiler without that either is told that the pragmas are not for it."""
    cc = _refusing(tmp_path, refused, "clang: error: unsupported option")
    assert not compiler.openmp_supported((cc,)) and compiler.openmp_flags((cc,)) == (used,)
    assert "no OpenMP support" in (monkeypatch.setenv(compiler.CC_ENV, cc) or compiler.compiler_reason())
    out = tmp_path / "lib" / prebuilt.library_name()
    warnings: list[str] = []
    assert prebuilt.build_or_explain(_small_derived(tmp_path), out, tmp_path / "work", jobs=2, warn=warnings.append)
    assert warnings == []
    lib, _ = library.Loader(tmp_path, out).prebuilt()
    flags = prebuilt.parse_build_record(library.build_record(lib))[1]
    assert compiler.OPENMP not in flags and used in flags and set(compiler.WERROR) <= set(flags)
    assert library.Loader(tmp_path, out).prebuilt_serial()
    # the serial kernels match the torch reference (forward and backward, float64), on two threads' worth of work
    result = _child(tmp_path, out, SJ_CPU_CC=cc)
    assert result["ok"] and "built without OpenMP: one thread" in result["details"]
    assert "fallbacks" not in result["details"]


def test_warnings_as_errors_failing_builds_without_werror(tmp_path, monkeypatch):
    cc = _refusing(tmp_path, "-Werror", "k.c:1:1: error: a warning a newer compiler has [-Werror=new-warning]")
    monkeypatch.setenv(compiler.CC_ENV, cc)
    out = tmp_path / "lib" / prebuilt.library_name()
    prebuilt.no_kernels_note(out).parent.mkdir(parents=True)
    prebuilt.no_kernels_note(out).write_text("an earlier build's failure\n")
    warnings: list[str] = []
    assert prebuilt.build_or_explain(_small_derived(tmp_path), out, tmp_path / "work", jobs=2, warn=warnings.append)
    assert len(warnings) == 1 and "without -Werror" in warnings[0] and "new-warning" in warnings[0]
    assert not prebuilt.no_kernels_note(out).exists()  # the earlier failure's note is gone
    lib, _ = library.Loader(tmp_path, out).prebuilt()
    flags = prebuilt.parse_build_record(library.build_record(lib))[1]
    assert not set(compiler.WERROR) & set(flags) and compiler.OPENMP in flags
    assert not library.Loader(tmp_path, out).prebuilt_serial()
    assert _child(tmp_path, out)["ok"]


def test_no_compiler_leaves_no_library_and_a_note_saying_why(tmp_path, monkeypatch):
    monkeypatch.setenv(compiler.CC_ENV, "none")
    out = tmp_path / "lib" / prebuilt.library_name()
    out.parent.mkdir(parents=True)
    out.write_bytes(b"a library an earlier build left")
    warnings: list[str] = []
    assert not prebuilt.build_or_explain(_small_derived(tmp_path), out, tmp_path / "work", warn=warnings.append)
    assert not out.exists()  # an earlier build's library must not pass for this one
    note = prebuilt.no_kernels_note(out)
    assert "no C compiler" in note.read_text()
    assert len(warnings) == 1 and "building without prebuilt kernels" in warnings[0]
    lib, reason = library.Loader(tmp_path, out).prebuilt()
    assert lib is None and "could not compile it (no C compiler" in reason and str(note) in reason
    # the package still works: every call falls back to the reference, and says so
    result = _child(tmp_path, out, SJ_CPU_CC="none")
    assert result["ok"] and "could not compile it" in result["details"]
    assert any("falling back to the torch reference" in w for w in result["warnings"])


def test_kernels_that_fail_to_compile_at_all_leave_a_note(tmp_path, monkeypatch):
    cc = _refusing(tmp_path, "-c", "cc1: internal compiler error")
    monkeypatch.setenv(compiler.CC_ENV, cc)
    out = tmp_path / "lib" / prebuilt.library_name()
    warnings: list[str] = []
    assert not prebuilt.build_or_explain(_small_derived(tmp_path), out, tmp_path / "work", warn=warnings.append)
    assert [w.split(";")[0] for w in warnings] == [
        "sj-cpu: the kernels did not compile with warnings as errors", warnings[1].split(";")[0]]
    assert "internal compiler error" in prebuilt.no_kernels_note(out).read_text() and not out.exists()


class _App:
    """The part of hatchling's Application the hook uses."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def display_info(self, message: str) -> None:
        pass

    def display_warning(self, message: str) -> None:
        self.warnings.append(message)


@pytest.mark.parametrize(("version", "included"), [("0.1.0", "force_include"),
                                                    ("editable", "force_include_editable")])
def test_the_build_hook_ships_the_note_instead_of_failing_the_install(tmp_path, monkeypatch, version, included):
    """The hook itself (a copy, whose HERE is tmp_path) building a wheel, or an editable wheel, without a compiler:
    the note is built outside the source tree and included in the wheel (an editable install too, so that each
    environment installed from one checkout has its own), never written into the checkout."""
    pytest.importorskip("hatchling", reason="hatchling is in the test environment (hatch.toml); not here")
    root = Path(__file__).parents[2]
    hook_dir = tmp_path / "sj-cpu"
    hook_dir.mkdir()
    (hook_dir / "hatch_build.py").write_text((root / "packages" / "sj-cpu" / "hatch_build.py").read_text())
    monkeypatch.setenv(compiler.CC_ENV, "none")
    monkeypatch.delenv("SJ_CPU_SKIP_BUILD", raising=False)
    monkeypatch.syspath_prepend(str(hook_dir))
    monkeypatch.delitem(sys.modules, "hatch_build", raising=False)
    import hatch_build  # the copy: its HERE is hook_dir

    app = _App()
    hook = hatch_build.CustomBuildHook(str(hook_dir), {}, None, None, str(tmp_path / "dist"), "wheel", app)
    build_data = {"force_include": {}, "force_include_editable": {}, "pure_python": True}
    hook.initialize(version, build_data)
    [(source, target)] = build_data[included].items()
    note = Path(source)
    assert target == f"sj/cpu/_lib/{prebuilt.no_kernels_note(Path(prebuilt.library_name())).name}"
    assert "no C compiler" in note.read_text() and not note.is_relative_to(hook_dir)
    assert not any(build_data[k] for k in ("force_include", "force_include_editable") if k != included)
    assert build_data["pure_python"]  # no library: a pure-Python wheel
    assert any("building without prebuilt kernels" in w for w in app.warnings)
    assert {p.name for p in hook_dir.iterdir()} <= {"hatch_build.py", "__pycache__"}  # nothing in the checkout
    hook.finalize(version, build_data, str(tmp_path / "dist" / "x.whl"))
    assert not note.exists()  # the build's temporary directory is gone with the build
