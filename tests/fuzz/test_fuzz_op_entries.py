"""Fuzzed calls of ``sj::multistep_fwd`` / ``sj::multistep_bwd`` on every backend CI has (``torch``; ``cpu`` and
``triton`` — under ``TRITON_INTERPRET=1`` without a GPU — in a child process, where a crash fails the test): random
shapes, strides, dtypes, and states, params, gradients and saved tensors that do not match. Every call gives the
``torch`` backend's result or its clear error (:mod:`_fuzz_op_calls`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _fuzz_op_calls import calls, check, fuzz_settings
from hypothesis import given

from sj.backends.registry import status

CHILD = Path(__file__).with_name("_fuzz_op_child.py")
KERNEL_BACKENDS = ("cpu", "triton")
EXAMPLES = {"torch": 60, "kernels": 120}


@fuzz_settings(EXAMPLES["torch"])
@given(c=calls())
def test_torch_backend_gives_clear_errors_and_agrees_with_its_fake(c):
    check("torch", c)


def test_kernel_backends_never_crash_and_match_torch():
    available = {r.name for r in status() if r.available}
    backends = [b for b in KERNEL_BACKENDS if b in available]
    if not backends:
        pytest.skip(f"none of {KERNEL_BACKENDS} is available here")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(CHILD.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(CHILD), ",".join(backends), str(EXAMPLES["kernels"])],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, (f"fuzzing {backends} exited with {proc.returncode} (a negative code is a signal: "
                                  f"the process crashed on the last example printed):\n{proc.stdout[-3000:]}\n"
                                  f"{proc.stderr[-6000:]}")
