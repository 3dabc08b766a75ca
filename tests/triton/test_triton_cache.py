"""sj-triton imports its generated kernel modules from the cache (``<cache>/triton/<sha256>.py``), so it trusts them
only as sj.cache says: a file there whose content is not what sj generated for its name is never imported (the
generated source replaces it), and a cache directory other users could write is refused with a clear error."""

from __future__ import annotations

import hashlib
import os
import sys

import _triton_env  # noqa: F401 - sets TRITON_INTERPRET=1 when there is no GPU
import pytest

import sj.neuron.builtin  # noqa: F401
from sj.cache import UntrustedCacheError
from sj.ops import MultiStepSpec
from sj.triton import loader
from sj.triton.kernels import module_source

SPEC = MultiStepSpec("qif", "SoftSign", (2.0,), True, False, False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SJ_CACHE_DIR", str(tmp_path / "sj"))
    monkeypatch.setattr(loader, "_loaded", {})  # a new process, as far as the loader knows
    source = module_source(SPEC.program, SPEC.surrogate_program, loader.IMPLEMENTATION_HASH)
    name = hashlib.sha256(source.encode()).hexdigest()[:24] + ".py"
    return tmp_path / "sj" / "triton", name, source


@pytest.mark.parametrize("how", ["planted", "appended"])
def test_a_module_sj_did_not_generate_is_never_imported(cache, tmp_path, how):
    folder, name, source = cache
    marker = tmp_path / "imported"
    payload = f"open({str(marker)!r}, 'w').write('ran')\n"
    folder.mkdir(parents=True)
    os.chmod(folder.parent, 0o700)
    os.chmod(folder, 0o700)
    (folder / name).write_text(payload if how == "planted" else source + payload)
    kernels = loader.load(SPEC.program, SPEC.surrogate_program)
    assert not marker.exists(), "a planted module was executed"
    assert kernels.path == (folder / name).resolve() and kernels.path.read_text() == source
    assert oct(kernels.path.stat().st_mode & 0o777) == oct(0o600)


def test_a_missing_or_matching_file_is_used_as_it_is(cache):
    first = loader.load(SPEC.program, SPEC.surrogate_program)
    mtime = first.path.stat().st_mtime_ns
    loader._loaded.clear()
    again = loader.load(SPEC.program, SPEC.surrogate_program)
    assert again.path == first.path and again.path.stat().st_mtime_ns == mtime  # checked, not rewritten


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_cache_directory_others_can_write_is_refused(cache):
    folder, _, _ = cache
    folder.mkdir(parents=True)
    os.chmod(folder.parent, 0o700)
    os.chmod(folder, 0o777)
    with pytest.raises(UntrustedCacheError, match=r"triton is writable by group or others.*chmod 700"):
        loader.load(SPEC.program, SPEC.surrogate_program)
