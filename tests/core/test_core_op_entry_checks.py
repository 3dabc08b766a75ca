"""The op entries ``sj::multistep_fwd`` / ``sj::multistep_bwd`` check every caller's tensors before any backend runs
(:mod:`sj.ops.checks`): states and params broadcast to the neuron shape or are refused, dtypes and devices must match,
gradients must have their outputs' shapes. Calls that once corrupted the heap of the ``cpu`` kernels or crashed the
``triton`` ones run in a child process, so a regression fails here instead of killing pytest."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sj.backends.registry import status
from sj.ops import multistep

CHILD = Path(__file__).with_name("_op_entry_child.py")
P = [torch.tensor(1.0), torch.tensor(0.0), torch.tensor(2.0)]

# per call of the child: a clear error whose message contains this, or (None) the torch backend's result
EXPECTED = {
    "state_of_one_element": None,
    "float16_state": "TypeError: initial state 'v' has dtype torch.float16 but x_seq has torch.float32",
    "float64_parameter": "TypeError: parameter 'v_threshold' has dtype torch.float64",
    "parameter_of_wrong_size": "ValueError: parameter 'tau' of shape (3,) does not broadcast to the neuron shape (16,)",
    "too_few_surrogate_params": "ValueError: surrogate 'S2NN' takes 2 parameters",
    "gradient_of_wrong_shape": "ValueError: grad_spike has shape (3, 8), expected (3, 16)",
    "last_state_gradient_of_one_element": "ValueError: gradient of the last state 'v' has shape (1,), expected (16,)",
    "nothing_saved": "ValueError: saved must hold 1 tensors",
    "saved_shorter_than_gradient": "ValueError: grad_spike has shape (3, 16), expected (2, 16)",
    "zero_steps_one_neuron": None,
}


def test_kernel_backends_check_before_running():
    available = {r.name for r in status() if r.available}
    backends = [b for b in ("torch", "cpu", "triton") if b in available]
    proc = subprocess.run([sys.executable, str(CHILD), ",".join(backends)], capture_output=True, text=True,
                          timeout=300, env={**os.environ})
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, (f"the child exited with {proc.returncode} during {lines[-1] if lines else None}:\n"
                                  f"{proc.stderr[-4000:]}")
    results = {(r["backend"], r["case"]): r for r in lines if "started" not in r}
    for backend in backends:
        for case, want in EXPECTED.items():
            got = results[(backend, case)]
            if want is None:
                assert got.get("matches_torch") is True, f"{backend} {case}: {got}"
            else:
                assert want in got.get("error", ""), f"{backend} {case}: {got}"


def test_op_autograd_reduces_broadcast_arguments_to_their_shapes():
    """A direct op call with a [1] state and a [1] parameter differentiates like multistep with the same arguments."""
    x = torch.rand(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 2

    def grads(via_op: bool):
        xg = x.clone().requires_grad_()
        v0, tau = torch.full((1,), 0.25, dtype=torch.float64, requires_grad=True), \
            torch.full((1,), 2.0, dtype=torch.float64, requires_grad=True)
        params = [torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64), tau]
        if via_op:
            spike, (last,), _, _ = torch.ops.sj.multistep_fwd("torch", "lif", "Sigmoid", [4.0], False, False, False,
                                                              True, xg, [v0], params)
        else:
            spike, (last,), _ = multistep("lif", xg, [v0], params, surrogate="Sigmoid", surrogate_params=[4.0])
        (spike * torch.arange(4.0, dtype=torch.float64)).sum().add(last.sum()).backward()
        return xg.grad, v0.grad, tau.grad

    for a, b in zip(grads(True), grads(False)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_differentiating_a_forward_that_saved_nothing_says_so():
    x = torch.rand(3, 4, requires_grad=True)
    spike, _, _, saved = torch.ops.sj.multistep_fwd("torch", "lif", "Sigmoid", [4.0], False, False, False, False, x,
                                                    [torch.zeros(4)], P)
    assert saved == []
    with pytest.raises(RuntimeError, match=r"called with save=False.*save=True"):
        spike.sum().backward()


def test_fake_implementations_raise_the_same_errors():
    """Under torch.compile the fake implementations run instead: the same checks, the same messages."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        params = [torch.tensor(1.0), torch.tensor(0.0), torch.tensor(2.0)]  # fake, like every tensor made here
        with pytest.raises(ValueError, match=r"initial state 'v' of shape \(3,\) does not broadcast"):
            torch.ops.sj.multistep_fwd("cpu", "lif", "Sigmoid", [4.0], False, False, False, True, torch.rand(2, 4),
                                       [torch.zeros(3)], params)
        h = torch.rand(2, 4)
        with pytest.raises(ValueError, match=r"grad_spike has shape \(2, 3\), expected \(2, 4\)"):
            torch.ops.sj.multistep_bwd("cpu", "lif", "Sigmoid", [4.0], False, False, False, [h], torch.empty(0),
                                       [torch.zeros(4)], params, [False] * 3, torch.rand(2, 3), [None], None)


def test_multistep_refuses_what_the_op_refuses():
    """The public function and the op entries share one set of checks (sj.ops.checks): the same message."""
    x, v0 = torch.rand(3, 4), torch.zeros(4, dtype=torch.float16)
    with pytest.raises(TypeError) as via_multistep:
        multistep("lif", x, [v0], P, surrogate="Sigmoid", surrogate_params=[4.0])
    with pytest.raises(TypeError) as via_op:
        torch.ops.sj.multistep_fwd("torch", "lif", "Sigmoid", [4.0], False, False, False, True, x, [v0], P)
    assert str(via_multistep.value) == str(via_op.value)
