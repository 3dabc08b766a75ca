"""Two processes using a new custom neuron at once: one compiles, the other waits and loads the same library."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sj.cpu import compiler

CHILD = Path(__file__).with_name("_cpu_child.py")


@pytest.mark.skipif(compiler.find_compiler() is None, reason="no C compiler")
def test_concurrent_first_use_compiles_once(tmp_path):
    log = tmp_path / "jit.log"
    env = {**os.environ, "SJ_CACHE_DIR": str(tmp_path / "cache"), "SJ_CPU_JIT_LOG": str(log)}
    procs = [subprocess.Popen([sys.executable, str(CHILD), "child_custom"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["ok"]
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines  # float64 kernels for one neuron × surrogate: compiled exactly once
    libs = list((tmp_path / "cache" / "cpu").glob("*" + compiler.library_suffix()))
    assert len(libs) == 1
    assert not list((tmp_path / "cache" / "cpu").glob("*.build.*"))  # no temporary left behind
