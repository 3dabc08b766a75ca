"""sj-triton's compiled-mode checks, which need no GPU: ahead-of-time compilation for sm_80/sm_90 and the host path
up to the driver with launches stubbed (``tests/triton/compiled/checks_*.py``).

They run in a pytest session of their own, in a subprocess without ``TRITON_INTERPRET``: this session interprets
kernels when there is no GPU, and Triton decorates its own library for the interpreter at import, after which
nothing compiles in the same process. The subprocess' report is shown when it fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")
HERE = Path(__file__).parent


def test_compiled_mode_checks(tmp_path):
    env = {**os.environ, "TRITON_INTERPRET": "0", "TRITON_CACHE_DIR": str(tmp_path / "triton-cache"),
           "SJ_CACHE_DIR": str(tmp_path / "sj-cache")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_files=checks_*.py",
           "--durations=5", str(HERE / "compiled")]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE.parent.parent, timeout=900)
    report = out.stdout[-6000:] + out.stderr[-3000:]
    assert out.returncode == 0, report
    assert " passed" in out.stdout and " failed" not in out.stdout, report
