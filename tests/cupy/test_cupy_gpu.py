"""On a CUDA device: the sj.testing conformance suite, both memory paths, streams, devices and torch.compile.

Skipped (with the backend's own reason) where the cupy backend is unavailable, e.g. on CPU-only CI.
"""

from __future__ import annotations

import os

import pytest
import torch

from sj.backends.registry import get_backend
from sj.testing import HALF_DTYPES, check_case, conformance_cases, gradient_may_jump


def multistep(*args, **kwargs):
    # imported late: a bare `import sj.ops` before `sj.neuron` hits a circular import in sj-core at the moment
    from sj.ops import multistep as op

    return op(*args, **kwargs)

REASON = get_backend("cupy").availability()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"cupy backend unavailable: {REASON}")

# SJ_CONFORMANCE_STRIDE=k takes every k-th case (benchmarks/gpu_check.sh uses 2 to fit its time budget)
STRIDE = int(os.environ.get("SJ_CONFORMANCE_STRIDE", "1"))
FULL = conformance_cases()[::STRIDE]  # float32 and float64
HALF = conformance_cases(dtypes=HALF_DTYPES)[::STRIDE]


@pytest.mark.parametrize("case", FULL + [c for c in HALF if not gradient_may_jump(c)], ids=str)
def test_conformance(case) -> None:
    check_case("cupy", case, device="cuda")


@pytest.mark.parametrize("case", [c for c in HALF if gradient_may_jump(c)], ids=str)
def test_conformance_half_forward_where_the_gradient_may_jump(case) -> None:
    """16 bits where a derivative jumps (sj.testing.gradient_may_jump): the saved H's rounding can move an element
    across the jump (seen on an H200: 14 of 126 bfloat16 cases), so the forward is compared, not the gradients."""
    check_case("cupy", case, device="cuda", gradients=False)


def _lif(x: torch.Tensor, backend: str, tau=2.0, **kw):
    v0 = torch.zeros(x.shape[1:], device=x.device, dtype=x.dtype)
    return multistep("lif", x, [v0], [1.0, 0.0, tau], surrogate="Sigmoid", surrogate_params=(4.0,),
                     backend=backend, **kw)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_vector_and_scalar_paths_agree(dtype) -> None:
    """N a multiple of the 16-byte width with aligned pointers takes the vector path; an odd N and an offset view take
    the scalar one. Both compute the same float math, so results agree bit for bit (no padding, no tail lost)."""
    from sj.cupy.cuda_types import preferred_vec
    from sj.cupy.launch import aligned_vec

    vec = preferred_vec(dtype)
    g = torch.Generator(device="cuda").manual_seed(0)
    odd = (torch.rand(6, vec * 65 + 1, device="cuda", generator=g) * 2).to(dtype)
    even = odd[:, :vec * 65].contiguous()
    buf = torch.empty(even.numel() + 1, device="cuda", dtype=dtype)
    offset = buf[1:].view_as(even)  # contiguous, but one element off the 16-byte alignment
    offset.copy_(even)
    assert aligned_vec(vec, even.shape[1], [even]) == vec and aligned_vec(vec, offset.shape[1], [offset]) == 1
    s_even, (v_even,), _ = _lif(even, "cupy")
    s_off, (v_off,), _ = _lif(offset, "cupy")
    s_odd, (v_odd,), _ = _lif(odd, "cupy")
    assert torch.equal(s_even, s_off) and torch.equal(v_even, v_off)
    assert torch.equal(s_odd[:, :vec * 65], s_even) and torch.equal(v_odd[:vec * 65], v_even)
    s_ref, (v_ref,), _ = _lif(odd.float(), "torch")
    assert torch.equal(s_odd.float(), s_ref)  # inputs are rounded to the dtype; fp32 compute, spikes agree
    assert torch.allclose(v_odd.float(), v_ref, atol=2e-2 if dtype != torch.float32 else 1e-6)


def test_runs_on_torch_current_stream() -> None:
    """The kernel is queued on torch's current stream: it must see a copy queued before it on a side stream."""
    src = torch.rand(8, 4096, device="cuda") * 2
    x = torch.zeros_like(src)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        torch.cuda._sleep(20_000_000)  # keep the side stream busy, so a wrong stream would read zeros
        x.copy_(src)
        spike, (v,), _ = _lif(x, "cupy")
    side.synchronize()
    s_ref, (v_ref,), _ = _lif(src, "torch")
    assert torch.equal(spike, s_ref) and torch.allclose(v, v_ref, atol=1e-6)


def _devices() -> tuple[int, int]:
    import cupy

    return torch.cuda.current_device(), cupy.cuda.runtime.getDevice()


def test_current_device_unchanged() -> None:
    before = _devices()
    x = torch.rand(4, 3, 100, device="cuda", requires_grad=True)
    spike, (v,), _ = _lif(x, "cupy")
    assert _devices() == before
    (spike.sum() + v.sum()).backward()
    torch.cuda.synchronize()
    assert _devices() == before


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_tensor_on_other_device_keeps_current() -> None:
    torch.cuda.set_device(0)
    x = torch.rand(4, 1000, device="cuda:1", requires_grad=True)
    spike, (v,), _ = _lif(x, "cupy")
    (spike.sum() + v.sum()).backward()
    assert _devices() == (0, 0)
    s_ref, (v_ref,), _ = _lif(x.detach().cpu(), "torch")
    assert torch.equal(spike.cpu(), s_ref) and torch.allclose(v.cpu(), v_ref, atol=1e-6)


def test_per_neuron_params_and_param_grads() -> None:
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(8, 3, 33, generator=g) * 2).double()
    tau = (1.5 + torch.rand(3, 33, generator=g)).double()
    results = {}
    for backend, device in (("cupy", "cuda"), ("torch", "cpu")):
        xd = x.to(device).requires_grad_()
        td = tau.to(device).requires_grad_()
        vth = torch.tensor(1.0, dtype=torch.float64, device=device, requires_grad=True)
        spike, (v,), v_seq = multistep("lif", xd, [torch.zeros(3, 33, dtype=torch.float64, device=device)],
                                       [vth, 0.0, td], surrogate="ATan", surrogate_params=(2.0,),
                                       store_v_seq=True, backend=backend)
        (spike.sum() + (v_seq ** 2).sum() + v.sum()).backward()
        results[backend] = [t.detach().cpu() for t in (spike, v_seq, xd.grad, td.grad, vth.grad)]
    for a, b in zip(results["cupy"], results["torch"]):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9)


def test_torch_compile_fullgraph() -> None:
    def f(x, tau):
        spike, (v,), _ = _lif(x, "cupy", tau=tau)
        return (spike * x).sum() + v.square().sum()

    x = torch.rand(6, 2, 128, device="cuda", requires_grad=True)
    tau = torch.tensor(2.0, device="cuda", requires_grad=True)
    eager = f(x, tau)
    gx, gt = torch.autograd.grad(eager, [x, tau])
    compiled = torch.compile(f, fullgraph=True)
    out = compiled(x, tau)
    cx, ct = torch.autograd.grad(out, [x, tau])
    assert torch.allclose(out, eager) and torch.allclose(cx, gx) and torch.allclose(ct, gt)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_saved_h_keeps_the_forward_spike(dtype) -> None:
    """H = 1 - 2^-(m+1) (no spike against v_threshold = 1; 2^-m is the dtype's spacing below 1.0) rounds to 1.0
    when saved in the 16-bit dtype; backward must still see no spike there (else dv/dh loses its (1 - s) = 1 term
    and the gradient is off by about 1)."""
    m = 11 if dtype == torch.float16 else 8  # 2^-m: the spacing just below 1.0
    x = torch.tensor([[1 - 2.0 ** -m], [2.0 ** -(m + 1)]], dtype=torch.float64)  # h1 = 1 - 2^-m, h2 = 1 - 2^-(m+1)
    assert x.to(dtype).double().equal(x) and torch.tensor(1 - 2.0 ** -(m + 1)).to(dtype).item() == 1.0
    grads = {}
    for backend, device, dt in (("cupy", "cuda", dtype), ("torch", "cpu", torch.float64)):
        xd = x.to(device, dt).requires_grad_()
        spike, (v,), _ = multistep("if_", xd, [torch.zeros(1, device=device, dtype=dt)], [1.0, 0.0],
                                   surrogate="ATan", surrogate_params=(2.0,), backend=backend)
        assert spike.sum().item() == 0
        (gx,) = torch.autograd.grad(v.sum(), [xd])
        grads[backend] = gx.double().cpu()
    assert torch.allclose(grads["cupy"], grads["torch"], atol=2e-2), grads
