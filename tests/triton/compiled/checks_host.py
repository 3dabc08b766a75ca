"""sj-triton's host path up to the driver, on CPU tensors with launches stubbed (:mod:`sj.triton.stub_driver`): what
each launch receives, what a call allocates, that nothing synchronises with the device, and which plans exist."""

from __future__ import annotations

import os

import pytest
import torch

if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):  # compiled kernels only
    pytest.skip("runs in its own session without TRITON_INTERPRET (tests/triton/test_triton_compiled.py)",
                allow_module_level=True)

import sj.neuron.builtin  # noqa: F401
from sj.backends.base import BackwardInputs
from sj.backends.registry import get_backend
from sj.ops import MultiStepSpec, multistep
from sj.testing.capture import ALLOCATIONS, LIF_SPEC, RecordOps, check_capture_safe, lif_inputs
from sj.triton import launch, tuning
from sj.triton.stub_driver import stubbed_launches


@pytest.fixture
def stub():
    record: list = []
    with stubbed_launches(90, record):
        yield record


def test_forward_launch_receives_the_call_tensors(stub):
    x, v0, params = lif_inputs()
    spike, last, v_seq, saved = get_backend("triton").forward(LIF_SPEC, x, [v0], params, save=True)
    (fwd,) = stub
    args = fwd.args
    assert fwd.name == "forward_kernel" and fwd.grid == (-(-256 // tuning.default_config(x.dtype, 256)[0]), 1, 1)
    assert args[0] is x and args[1] is v0 and all(a is p for a, p in zip(args[2:5], params))
    assert args[5] is spike and args[6] is spike and args[7] is saved[0] and args[8] is last[0]  # no v_seq: spike
    assert args[9:11] == (4, 256) and v_seq is None
    assert args[11:16] == (False, False, False, True, False)  # FULL_* (0-d params), SAVE, STORE_V


def test_backward_reads_no_absent_last_state_gradient(stub):
    x, v0, params = lif_inputs()
    backend = get_backend("triton")
    _, _, _, saved = backend.forward(LIF_SPEC, x, [v0], params, save=True)
    gs = torch.rand_like(x)
    inputs = BackwardInputs(saved, x.new_empty(0), [v0], params, [False, False, True], gs, [None], None)
    with RecordOps() as ops:
        grad_x, grad_init, grad_params = backend.backward(LIF_SPEC, inputs)
    bwd = stub[-1]
    assert bwd.name == "backward_kernel"
    h = saved[0]
    names = [*("hseq x init_v v_threshold v_reset tau gs gv glast_v gx ginit_v gpar_th gpar_re gpar_tau".split())]
    args = dict(zip(names, bwd.args))
    assert args["hseq"] is h and args["gs"] is gs and args["gx"] is grad_x and args["ginit_v"] is grad_init[0]
    assert args["glast_v"] is h and args["gv"] is h  # placeholders: the kernel reads neither (flags below)
    assert args["gpar_tau"] is grad_params[2] and grad_params[:2] == [None, None]
    assert bwd.args[14:18] == (4, 256, 3 * 256, 2.0)  # T, N, LAST, the surrogate's alpha as a scalar
    flags = bwd.args[18:-2]
    assert flags == (False, False, False, False, False, True, False, False)  # FULL_*, GRAD_*, HAS_GLAST_v, HAS_GV
    assert set(ops.names) <= ALLOCATIONS, ops.names  # outputs only: no zeros, no copies of parameters


def test_a_call_allocates_only_its_outputs_and_never_synchronises(stub):
    """What makes the op safe to capture in a CUDA graph: the backend allocates only through the (caching) allocator
    and reads nothing back to the host; the whole op, sj-core included, runs no synchronising operation."""
    check_capture_safe("triton")


def test_steady_state_calls_make_no_plan(stub):
    x, v0, params = lif_inputs(T=8, n=512)
    x.requires_grad_()

    def call():
        spike, _, _ = multistep("lif", x, [v0], params, surrogate="ATan", surrogate_params=[2.0], backend="triton")
        torch.autograd.grad(spike, [x], torch.ones_like(spike))

    call()
    plans = dict(launch._plans)
    for _ in range(3):
        call()
    assert launch._plans == plans
    assert len(stub) == 8


def test_plans_follow_size_class_t_class_and_alignment(stub):
    backend = get_backend("triton")

    def new_plans(T, n, misaligned=False):
        """Forward plans a call of ``[T, n]`` adds; ``misaligned``: x is a contiguous view 2 bytes off alignment."""
        x, v0, params = lif_inputs(T, n)
        if misaligned:
            x = torch.empty(T * n + 1, dtype=x.dtype)[1:].view(T, n).copy_(x)
        before = set(launch._plans)
        backend.forward(LIF_SPEC, x, [v0], params, save=False)
        return set(launch._plans) - before

    (key,) = new_plans(4, 1024)
    assert key[5] is True  # aligned: 16-byte accesses
    assert new_plans(3, 1024) == set()  # T class 4 covers T = 3 and 4
    assert len(new_plans(64, 1024)) == len(new_plans(5, 1024)) == 1  # T classes 64 and 8
    assert len(new_plans(4, 2048)) == 1  # size class 2048
    (odd,) = new_plans(4, 1000)  # N not a multiple of 16: the unaligned specialisation, same size class
    (off,) = new_plans(4, 1024, misaligned=True) or {odd}  # a misaligned view: unaligned too (that plan may exist)
    assert odd[5] is False and off[5] is False and odd[7] == key[7]


def test_absent_and_present_last_state_gradients_are_two_plans(stub):
    x, v0, params = lif_inputs()
    x.requires_grad_()
    spike, last, _ = multistep("lif", x, [v0], params, surrogate="ATan", surrogate_params=[2.0], backend="triton")
    torch.autograd.grad(spike.float().sum(), [x], retain_graph=True)
    torch.autograd.grad(spike.float().sum() + last[0].float().sum(), [x])
    flags = [launch_.args[18:-2] for launch_ in stub if launch_.name == "backward_kernel"]
    assert [f[6] for f in flags] == [False, True]  # HAS_GLAST_v


def test_one_binary_serves_every_t(stub, monkeypatch):
    """T is a runtime argument: calls at T = 5 and T = 700 (two T classes, so two plans) share one variant, compiled
    and loaded once; a third plan (another size class) with the same variant compiles nothing either."""
    monkeypatch.setenv("SJ_TRITON_AUTOTUNE", "0")
    monkeypatch.setattr(launch, "_launchers", {})
    compiled = []
    real = launch.compile_variant
    monkeypatch.setattr(launch, "compile_variant", lambda kernels, v, target: compiled.append(v) or real(
        kernels, v, target))
    spec = MultiStepSpec("lif_nodecay", "SoftSign", (2.0,), False, False, False)
    backend = get_backend("triton")
    before = set(launch._plans)
    for T, n in ((5, 512), (700, 512), (5, 1024)):
        x, v0, params = lif_inputs(T, n)
        backend.forward(spec, x, [v0], params, save=True)
    plans = [launch._plans[key] for key in set(launch._plans) - before]
    assert len(plans) == 3 and len({id(launch_) for launch_, _ in plans}) == 1  # one loaded kernel for the three
    assert len(compiled) == 1 and len(launch._launchers) == 1
