"""Two processes using a configuration outside the prebuilt hot set at once (a custom neuron; a built-in one in
float64): one compiles each kernel variant, the other waits and loads the same library; both agree."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sj.cpu import compiler

CHILD = Path(__file__).with_name("_cpu_child.py")


@pytest.mark.skipif(compiler.find_compiler() is None, reason="no C compiler")
@pytest.mark.parametrize("neuron", ["child_custom", "lif"])
def test_concurrent_first_use_compiles_once(tmp_path, neuron):
    log = tmp_path / "jit.log"
    env = {**os.environ, "SJ_CACHE_DIR": str(tmp_path / "cache"), "SJ_CPU_JIT_LOG": str(log)}
    procs = [subprocess.Popen([sys.executable, str(CHILD), neuron], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    results = []
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["ok"] for r in results) and results[0]["digest"] == results[1]["digest"]
    # float64 kernels for one neuron × surrogate: the forward's and the backward's variant that the call needs, each
    # compiled exactly once (by one of the two processes) and loaded by both
    keys = [line.split()[-1] for line in log.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 2, keys
    libs = list((tmp_path / "cache" / "cpu").glob("*" + compiler.library_suffix()))
    assert sorted(p.stem for p in libs) == sorted(keys)
    assert not list((tmp_path / "cache" / "cpu").glob("*.build.*"))  # no temporary left behind
