"""The triton backend's behaviour beyond numerics: availability, supports(), inference kernel, store_v_seq,
per-neuron vs scalar parameters, deterministic parameter gradients, torch.compile, the kernel cache."""

from __future__ import annotations

import _triton_env  # noqa: F401 - sets TRITON_INTERPRET=1 when there is no GPU
import pytest
import torch
from _triton_env import DEVICE, ON_GPU

import sj.neuron.builtin  # noqa: F401 - registers the built-in neurons
from sj.backends.base import BackwardInputs
from sj.backends.registry import get_backend, status
from sj.neuron.declaration import declare
from sj.ops import MultiStepSpec, multistep
from sj.triton import loader
from sj.triton.backend import TritonBackend

ATAN_NEURON = declare("sj_triton_test_atan_lif", "v + (x - v) / tau + gain * atan(2 * v)", params=("tau", "gain"),
                      doc="test-only: exercises atan in generated kernels")


def _spec(neuron="lif", surrogate="ATan", sp=(2.0,), soft=False, detach=False, store=False) -> MultiStepSpec:
    return MultiStepSpec(neuron, surrogate, sp, soft, detach, store)


def test_registered_through_entry_point():
    rows = {r.name: r for r in status()}
    assert "triton" in rows and rows["triton"].available, rows.get("triton")
    assert isinstance(get_backend("triton"), TritonBackend)
    assert loader.IMPLEMENTATION_HASH in rows["triton"].details


def test_unavailable_without_gpu_or_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    reason = TritonBackend().availability()
    assert reason is not None and "no GPU" in reason and "TRITON_INTERPRET=1" in reason


def test_supports_rejects_what_it_cannot_run(monkeypatch):
    b = TritonBackend()
    assert "dtype" in b.supports(_spec(), torch.device(DEVICE), torch.int32)
    assert b.supports(_spec(), torch.device(DEVICE), torch.bfloat16) is None
    assert "surrogate parameters" in b.supports(_spec(sp=()), torch.device(DEVICE), torch.float32)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert "not a GPU" in b.supports(_spec(), torch.device("cpu"), torch.float32)


def _inputs(T=5, n=67, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, n, generator=g, dtype=torch.float64) * 3 - 1).to(dtype).to(DEVICE)
    v0 = (torch.rand(n, generator=g, dtype=torch.float64) - 0.5).to(dtype).to(DEVICE)
    return x, v0


def test_inference_kernel_saves_nothing_and_matches():
    b, spec = get_backend("triton"), _spec(store=True)
    x, v0 = _inputs()
    params = [torch.tensor(v, device=DEVICE) for v in (1.0, 0.0, 2.0)]
    spike_i, last_i, v_i, saved_i = b.forward(spec, x, [v0], params, save=False)
    spike_t, last_t, v_t, saved_t = b.forward(spec, x, [v0], params, save=True)
    assert saved_i == [] and len(saved_t) == 1 and saved_t[0].shape == x.shape
    assert torch.equal(spike_i, spike_t) and torch.equal(last_i[0], last_t[0]) and torch.equal(v_i, v_t)
    assert spike_i.sum() > 0, "the input must make the neurons fire for this test to mean anything"


def test_public_op_without_grad_uses_inference_kernel():
    x, v0 = _inputs()
    with torch.no_grad():
        spike, last, v_seq = multistep("lif", x, [v0], [1.0, 0.0, 2.0], surrogate="ATan", surrogate_params=[2.0],
                                       backend="triton")
    ref, ref_last, _ = multistep("lif", x.cpu().double(), [v0.cpu().double()], [1.0, 0.0, 2.0], surrogate="ATan",
                                 surrogate_params=[2.0])
    assert v_seq is None and torch.equal(spike.cpu().double(), ref)
    torch.testing.assert_close(last[0].cpu().double(), ref_last[0], rtol=1e-5, atol=1e-6)


def test_store_v_seq_false_only_last_v_gets_gradient():
    x, v0 = _inputs()
    x.requires_grad_()
    _, last, v_seq = multistep("lif", x, [v0], [1.0, 0.0, 2.0], surrogate="Sigmoid", surrogate_params=[4.0],
                                   backend="triton")
    assert v_seq is None
    (gx,) = torch.autograd.grad(last[0].sum(), [x])
    xr = x.detach().cpu().double().requires_grad_()
    _, last_r, _ = multistep("lif", xr, [v0.cpu().double()], [1.0, 0.0, 2.0], surrogate="Sigmoid",
                             surrogate_params=[4.0])
    (gr,) = torch.autograd.grad(last_r[0].sum(), [xr])
    torch.testing.assert_close(gx.cpu().double(), gr, rtol=1e-4, atol=1e-5)
    assert gr.abs().sum() > 0


def test_scalar_and_per_neuron_parameters_agree():
    x, v0 = _inputs()
    n = x.shape[1]
    w = torch.tensor(0.3, device=DEVICE, requires_grad=True)
    w_full = torch.full((n,), 0.3, device=DEVICE, requires_grad=True)
    outs = []
    for p in (w, w_full):
        spike, last, _ = multistep("plif", x, [v0], [1.0, 0.0, p], surrogate="ATan", surrogate_params=[2.0],
                                   backend="triton")
        (g,) = torch.autograd.grad((spike * torch.linspace(-1, 1, n, device=DEVICE)).sum() + last[0].sum(), [p])
        outs.append((spike, g))
    assert torch.equal(outs[0][0], outs[1][0])
    assert outs[1][1].shape == (n,)
    torch.testing.assert_close(outs[0][1], outs[1][1].sum(), rtol=1e-5, atol=1e-5)


def test_plif_weight_gradient_is_deterministic():
    x, v0 = _inputs(T=8, n=3000)
    grads = []
    for _ in range(3):
        w = torch.tensor(0.1, device=DEVICE, requires_grad=True)
        spike, _, _ = multistep("plif", x, [v0], [1.0, 0.0, w], surrogate="Sigmoid", surrogate_params=[4.0],
                                backend="triton")
        (g,) = torch.autograd.grad(spike.sum(), [w])
        grads.append(g)
    assert grads[0] != 0 and all(torch.equal(grads[0], g) for g in grads[1:])


def test_custom_neuron_with_atan():
    x, v0 = _inputs(dtype=torch.float64)
    params = [1.0, -0.1, torch.tensor(2.0, dtype=torch.float64, device=DEVICE, requires_grad=True), 0.25]
    xr = x.clone().requires_grad_()
    out = multistep(ATAN_NEURON.name, xr, [v0], params, surrogate="Erf", surrogate_params=[2.0], store_v_seq=True,
                    backend="triton")
    xc = x.cpu().clone().requires_grad_()
    pc = [params[0], params[1], params[2].detach().cpu().requires_grad_(), params[3]]
    ref = multistep(ATAN_NEURON.name, xc, [v0.cpu()], pc, surrogate="Erf", surrogate_params=[2.0], store_v_seq=True)
    assert torch.equal(out[0].cpu(), ref[0])
    torch.testing.assert_close(out[2].cpu(), ref[2], rtol=1e-12, atol=1e-12)
    g = torch.autograd.grad(out[2].sum() + out[0].sum(), [xr, params[2]])
    gr = torch.autograd.grad(ref[2].sum() + ref[0].sum(), [xc, pc[2]])
    for a, b in zip(g, gr):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-12)


def test_noncontiguous_grad_of_last_state():
    b, spec = get_backend("triton"), _spec()
    x, v0 = _inputs(T=3, n=40)
    params = [torch.tensor(v, device=DEVICE) for v in (1.0, 0.0, 2.0)]
    _, _, _, saved = b.forward(spec, x, [v0], params, save=True)
    g_last = torch.randn(40, 2, device=DEVICE)[:, 1]
    gs = torch.randn(3, 40, device=DEVICE)
    args = dict(saved=saved, x_seq=x, state_init=[v0], params=params, params_need_grad=[False, False, True],
                grad_spike=gs, grad_v_seq=None)
    a = b.backward(spec, BackwardInputs(grad_states_last=[g_last], **args))
    c = b.backward(spec, BackwardInputs(grad_states_last=[g_last.contiguous()], **args))
    assert torch.equal(a[0], c[0]) and torch.equal(a[1][0], c[1][0]) and torch.equal(a[2][2], c[2][2])
    assert a[2][0] is None and a[2][1] is None


def test_torch_compile_fullgraph():
    def f(x, v0, tau):
        s, last, _ = multistep("lif", x, [v0], [1.0, 0.0, tau], surrogate="ATan", surrogate_params=[2.0],
                               backend="triton")
        return (s * torch.arange(s.numel(), device=s.device).view_as(s)).sum() + last[0].sum()

    x, v0 = _inputs()
    x.requires_grad_()
    tau = torch.tensor(2.0, device=DEVICE, requires_grad=True)
    compiled = torch.compile(f, fullgraph=True, backend="inductor" if ON_GPU else "aot_eager")
    out = compiled(x, v0, tau)
    grads = torch.autograd.grad(out, [x, tau])
    ref = f(x, v0, tau)
    ref_grads = torch.autograd.grad(ref, [x, tau])
    torch.testing.assert_close(out, ref)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_kernel_cache_is_content_addressed(tmp_path, monkeypatch):
    monkeypatch.setenv("SJ_CACHE_DIR", str(tmp_path))
    spec = _spec("izhikevich", "SoftSign", (2.0,), soft=True)
    k = loader.load(spec.program, spec.surrogate_program)
    assert k.path.parent == tmp_path / "triton" and k.path.exists()
    text = k.path.read_text()
    import hashlib

    assert k.path.stem == hashlib.sha256(text.encode()).hexdigest()[:24]
    assert loader.IMPLEMENTATION_HASH in text
    assert loader.load(spec.program, spec.surrogate_program) is k


def test_large_neuron_count_is_refused():
    from sj.triton import launch

    with pytest.raises(ValueError, match="at most"):
        launch._neuron_count(torch.empty(1, 1).expand(2, launch.MAX_NEURONS + 1))
