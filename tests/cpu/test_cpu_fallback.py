"""Without the prebuilt library the backend compiles at run time; without a compiler either it falls back to the
torch reference, visibly (warning + `sj backends` details)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sj.cpu import compiler

CHILD = Path(__file__).with_name("_cpu_child.py")


def _run(tmp_path, neuron: str, **env) -> dict:
    full = {**os.environ, "SJ_CACHE_DIR": str(tmp_path / "cache"), **env}
    res = subprocess.run([sys.executable, str(CHILD), neuron], capture_output=True, text=True, env=full, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_library_absent_and_no_compiler_falls_back_to_reference(tmp_path):
    out = _run(tmp_path, "lif", SJ_CPU_LIBRARY=str(tmp_path / "missing.so"), SJ_CPU_CC="none")
    assert out["ok"]
    assert "is absent" in out["details"]
    assert "fallbacks to the torch reference: lif/ATan" in out["details"]
    assert any("falling back to the torch reference" in w for w in out["warnings"])


@pytest.mark.skipif(compiler.find_compiler() is None, reason="no C compiler")
def test_library_absent_compiles_at_run_time(tmp_path):
    out = _run(tmp_path, "if_", SJ_CPU_LIBRARY=str(tmp_path / "missing.so"))
    assert out["ok"]
    assert "is absent" in out["details"] and "fallbacks" not in out["details"]
    assert list((tmp_path / "cache" / "cpu").glob("*" + compiler.library_suffix()))


def test_prebuilt_library_is_used():
    from sj.backends.registry import get_backend
    from sj.ops.spec import MultiStepSpec

    b = get_backend("cpu")
    lib, reason = b.loader.prebuilt()
    if lib is None:
        pytest.skip(f"package built without kernels: {reason}")
    import torch

    k = b.kernels(MultiStepSpec("plif", "Sigmoid", (4.0,), True, True, False), torch.float32)
    assert k is not None and k.origin == "prebuilt"


def test_bad_device_and_dtype_are_refused():
    import torch

    from sj.backends.registry import BackendError
    from sj.ops import multistep

    f8 = torch.float8_e5m2
    with pytest.raises(BackendError, match=r"float8_e5m2 is not supported \(float16, bfloat16, float32 and float64"):
        multistep("lif", torch.rand(2, 3).to(f8), [torch.zeros(3).to(f8)], [1.0, 0.0, 2.0], surrogate="ATan",
                  surrogate_params=[2.0], backend="cpu")
