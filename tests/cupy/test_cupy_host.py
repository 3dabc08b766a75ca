"""sj-cupy's host path up to the driver, on CPU tensors with launches stubbed (:mod:`sj.cupy.stub_launch`; kernels
really compiled): what each launch receives, which kernel variant a call picks, what a call allocates, that nothing
synchronises with the device (what makes the op safe to capture in a CUDA graph), and which plans exist."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")

import sj.neuron.builtin  # noqa: F401
from sj.backends.base import BackwardInputs
from sj.backends.registry import get_backend
from sj.cupy import backend as cupy_backend
from sj.cupy.stub_launch import stubbed_launches
from sj.ops import multistep
from sj.testing.capture import ALLOCATIONS, LIF_SPEC, RecordOps, check_capture_safe, lif_inputs


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sj-cache")


@pytest.fixture
def stub(cache_dir, monkeypatch):
    monkeypatch.setenv("SJ_CACHE_DIR", str(cache_dir))
    record: list = []
    with stubbed_launches(90, record):
        yield record


def test_unavailable_and_refusing_cpu_tensors_outside_the_stub():
    b = get_backend("cupy")
    assert "CUDA devices only" in b.supports(LIF_SPEC, torch.device("cpu"), torch.float32)
    if not torch.cuda.is_available():
        assert b.availability() is not None


def test_forward_launch_receives_the_call_tensors(stub):
    x, v0, params = lif_inputs()
    spike, last, v_seq, saved = get_backend("cupy").forward(LIF_SPEC, x, [v0], params, save=True)
    (fwd,) = stub
    assert fwd.name.startswith("sj_fwd_lif_") and fwd.name.endswith("_float16_v8_save_p000")
    assert fwd.grid == 1  # 256 neurons, 8 per thread, 256 threads per block
    expected = (x, v0, *params, spike, last[0], saved[0])
    assert fwd.values == (*(t.data_ptr() for t in expected), 256, 4) and v_seq is None


def test_backward_reads_no_absent_last_state_gradient(stub):
    x, v0, params = lif_inputs()
    backend = get_backend("cupy")
    _, _, _, saved = backend.forward(LIF_SPEC, x, [v0], params, save=True)
    gs = torch.rand_like(x)
    inputs = BackwardInputs(saved, x.new_empty(0), [v0], params, [False, False, True], gs, [None], None)
    with RecordOps() as ops:
        grad_x, grad_init, grad_params = backend.backward(LIF_SPEC, inputs)
    bwd = stub[-1]
    assert bwd.name.endswith("_ATan_g001_l0_p000")  # tau's gradient only, no last-state gradient, 0-d params
    expected = (saved[0], v0, *params, gs, grad_x, grad_init[0], grad_params[2])
    assert bwd.values == (*(t.data_ptr() for t in expected), 256, 4, 2.0)
    assert grad_params[:2] == [None, None]
    assert set(ops.names) <= ALLOCATIONS, ops.names  # outputs only: no zeros, no copies of parameters


def test_a_call_allocates_only_its_outputs_and_never_synchronises(stub):
    check_capture_safe("cupy")


@pytest.mark.parametrize("dtype, vec", [(torch.float16, 8), (torch.bfloat16, 8), (torch.float32, 4),
                                        (torch.float64, 2)])
def test_vector_width_follows_size_and_alignment(stub, dtype, vec):
    backend = get_backend("cupy")
    x, v0, params = lif_inputs(3, 64, dtype)
    backend.forward(LIF_SPEC, x, [v0], params, save=False)
    odd, v_odd, _ = lif_inputs(3, 63, dtype)
    backend.forward(LIF_SPEC, odd, [v_odd], params, save=False)
    off = torch.empty(3 * 64 + 1, dtype=dtype)[1:].view(3, 64).copy_(x)  # contiguous, not 16-byte aligned
    backend.forward(LIF_SPEC, off, [v0], params, save=False)
    assert [f"_v{vec}_", "_v1_", "_v1_"] == [f"_v{launch.name.split('_v')[-1].split('_')[0]}_" for launch in stub]
    assert [launch.grid for launch in stub] == [1, 1, 1] and stub[1].values[-2:] == (63, 3)


def test_per_neuron_parameters_are_a_compile_time_choice(stub):
    x, v0, params = lif_inputs()
    tau = torch.full((256,), 2.0, dtype=x.dtype)
    get_backend("cupy").forward(LIF_SPEC, x, [v0], [params[0], params[1], tau], save=False)
    assert stub[-1].name.endswith("_p001") and stub[-1].values[4] == tau.data_ptr()


def test_steady_state_calls_make_no_plan(stub):
    x, v0, params = lif_inputs(T=8, n=512)
    x.requires_grad_()

    def call():
        spike, _, _ = multistep("lif", x, [v0], params, surrogate="ATan", surrogate_params=[2.0], backend="cupy")
        torch.autograd.grad(spike, [x], torch.ones_like(spike))

    call()
    plans = dict(cupy_backend._plans)
    for _ in range(3):
        call()
    assert cupy_backend._plans == plans and len(stub) == 8
