"""The run-time kernel cache is trusted only as far as sj.cache's rules allow: a directory other users could write is
refused (the call runs on the reference, with a warning naming the directory), and a library under a kernel's name
that its compile did not record (planted, or edited since) is compiled over, never loaded."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sj import cache
from sj.cpu import codegen, compiler, library
from sj.ops import MultiStepSpec

pytestmark = pytest.mark.skipif(compiler.find_compiler() is None or sys.platform == "win32",
                                reason="needs a C compiler and POSIX permissions")

SPEC = MultiStepSpec("qif", "Erf", (), False, False, False)  # outside the prebuilt hot set


def _target(cache_dir: Path) -> Path:
    """Where the forward kernel of SPEC (float64, scalar parameters) is cached."""
    key = codegen.source_hash(codegen.forward_unit(SPEC.program, "f64", "s"))
    return cache_dir / f"{key}-{compiler.host_tag()}{compiler.library_suffix()}"


def _planted(tmp_path: Path, marker: Path) -> bytes:
    """A shared library whose constructor creates ``marker``: loading it would run code."""
    src = tmp_path / "planted.c"
    src.write_text(textwrap.dedent(f"""
        #include <stdio.h>
        __attribute__((constructor)) static void planted(void) {{ fclose(fopen("{marker}", "w")); }}
        int sj_cpu_abi_version(void) {{ return {codegen.ABI_VERSION}; }}
    """))
    out = tmp_path / "planted.so"
    subprocess.run([*compiler.find_compiler(), "-shared", "-fPIC", str(src), "-o", str(out)], check=True)
    return out.read_bytes()


def _forward(loader: library.Loader):
    return loader.kernels(SPEC.program, SPEC.surrogate_program, "f64").forward(True)  # 0-d parameters: variant "s"


def test_a_planted_library_is_compiled_over_never_loaded(tmp_path):
    d = cache.secure_dir(tmp_path / "cache")
    marker = tmp_path / "constructor-ran"
    target = _target(d)
    target.write_bytes(_planted(tmp_path, marker))  # no digest record: not produced by sj's compile
    with pytest.warns(RuntimeWarning, match="does not match the digest"):
        fn = _forward(library.Loader(d))
    assert fn is not None and cache.verified(target) and not marker.exists()


def test_a_library_edited_after_its_compile_is_compiled_over(tmp_path):
    d = cache.secure_dir(tmp_path / "cache")
    _forward(library.Loader(d))
    target = _target(d)
    assert cache.verified(target)
    marker = tmp_path / "constructor-ran"
    edited = tmp_path / "edited.so"  # a new file put in its place (this process still maps the old one)
    edited.write_bytes(_planted(tmp_path, marker))
    os.replace(edited, target)  # the record now names other content
    with pytest.warns(RuntimeWarning, match="does not match the digest"):
        _forward(library.Loader(d))
    assert cache.verified(target) and not marker.exists()


def test_a_cache_others_can_write_is_refused_and_the_call_runs_on_the_reference(tmp_path):
    """In a fresh process whose cache directory is world-writable: the cold configuration falls back, the warning and
    `sj backends` name the directory, and nothing is compiled into it."""
    shared = tmp_path / "shared-cache"
    (shared / "cpu").mkdir(parents=True)
    os.chmod(shared / "cpu", 0o777)
    child = textwrap.dedent("""
        import warnings, torch
        from sj.backends.registry import get_backend
        from sj.ops import multistep
        x = torch.rand(4, 8, dtype=torch.float64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s, _, _ = multistep("qif", x, [torch.zeros(8, dtype=torch.float64)], [1.0, 0.0, 2.0, 0.8, 1.0, 0.0],
                                surrogate="Erf", backend="cpu")
            ref, _, _ = multistep("qif", x, [torch.zeros(8, dtype=torch.float64)], [1.0, 0.0, 2.0, 0.8, 1.0, 0.0],
                                  surrogate="Erf", backend="torch")
        assert torch.equal(s, ref)
        print([str(w.message) for w in caught if "falling back" in str(w.message)])
        print(get_backend("cpu").details())
    """)
    env = {**os.environ, "SJ_CACHE_DIR": str(shared)}
    res = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    warned, details = res.stdout.strip().splitlines()[-2:]
    assert "writable by group or others" in warned and str(shared / "cpu") in warned
    assert "writable by group or others" in details
    assert not list((shared / "cpu").iterdir())


def test_cached_library_refuses_an_untrusted_directory(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    with pytest.raises(cache.UntrustedCacheError, match="chmod 700"):
        compiler.cached_library("int f(void) { return 0; }\n", "k", d)


def test_kernels_from_the_trusted_cache_match_the_reference(tmp_path):
    d = cache.secure_dir(tmp_path / "cache")
    kernels = library.Loader(d).kernels(SPEC.program, SPEC.surrogate_program, "f64")
    assert kernels.origin == "compiled on first use"
    x = torch.rand(3, 5, dtype=torch.float64)
    from sj.ops import multistep

    params = [1.0, 0.0, 2.0, 0.8, 1.0, 0.0]
    got = multistep("qif", x, [torch.zeros(5, dtype=torch.float64)], params, surrogate="Erf", backend="cpu")[0]
    want = multistep("qif", x, [torch.zeros(5, dtype=torch.float64)], params, surrogate="Erf", backend="torch")[0]
    assert torch.equal(got, want)
