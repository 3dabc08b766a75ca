"""float16 and bfloat16 on the cpu backend: run by the float32 kernels (inputs widened, outputs rounded back; see
sj.cpu.backend), checked against the float64 reference by the conformance suite, plus the saved H's rounding rule."""

import pytest
import torch

from sj.backends.registry import get_backend
from sj.ops import MultiStepSpec, multistep
from sj.testing import HALF_DTYPES, check_case, conformance_cases, gradient_may_jump

HALF = conformance_cases(dtypes=HALF_DTYPES)


@pytest.mark.parametrize("case", [c for c in HALF if not gradient_may_jump(c)], ids=str)
def test_conformance_half(case):
    check_case("cpu", case, device="cpu")


@pytest.mark.parametrize("case", [c for c in HALF if gradient_may_jump(c)], ids=str)
def test_conformance_half_forward_where_the_gradient_may_jump(case):
    check_case("cpu", case, device="cpu", gradients=False)


# IF with v_th = 1 (inputs exact in bfloat16): at step 1, h = 0.75 + (0.25 - 2^-10) = 1 - 2^-10 in float32, just
# below the threshold (no spike), and nearer to 1 than to its other bfloat16 neighbour 1 - 2^-8: plain rounding gives
# 1.0 exactly.
_X = [[0.75], [0.25 - 2**-10], [0.25]]


@pytest.mark.parametrize("threshold_shape", [(), (1,)], ids=["scalar", "per-neuron"])
def test_a_saved_h_that_would_round_onto_the_threshold_is_stored_below_it(threshold_shape):
    bf16 = torch.bfloat16
    x = torch.tensor(_X, dtype=bf16)
    spec = MultiStepSpec("if_", "ATan", (2.0,), False, False, False)
    params = [torch.ones(threshold_shape, dtype=bf16), torch.tensor(0.0, dtype=bf16)]
    spike, last, _, saved = get_backend("cpu").forward(spec, x, [torch.zeros(1, dtype=bf16)], params, True)
    assert spike.dtype == bf16 and saved[0].dtype == bf16 and last[0].dtype == bf16
    assert spike[:, 0].tolist() == [0.0, 0.0, 1.0]  # step 2: 0.999 + 0.25 fires
    assert torch.tensor(_X, dtype=torch.float64).equal(x.double())
    assert torch.tensor(1 - 2**-10).to(bf16).item() == 1.0  # what plain rounding would have saved
    assert saved[0][1, 0].item() == 1 - 2**-8  # one unit below: backward finds no spike at step 1 either


def test_a_zero_threshold_is_compared_as_a_number_not_by_bits():
    """LIF (τ = 2, v_th = 0): h = x / 2 = -2^-134 in float32 (no spike) rounds to -0.0 in bfloat16, whose bits differ
    from the threshold's +0.0 but which compares >= 0: it must be stored below zero too."""
    bf16 = torch.bfloat16
    x = torch.tensor([[-(2.0**-133)], [0.5]], dtype=bf16)  # bfloat16's smallest subnormal, negated
    spec = MultiStepSpec("lif", "ATan", (2.0,), False, False, False)
    params = [torch.tensor(v, dtype=bf16) for v in (0.0, 0.0, 2.0)]
    spike, _, _, saved = get_backend("cpu").forward(spec, x, [torch.zeros(1, dtype=bf16)], params, True)
    assert spike[:, 0].tolist() == [0.0, 1.0]
    assert torch.tensor(-(2.0**-134)).to(bf16).item() == 0.0  # what plain rounding would have saved (-0.0)
    assert saved[0][0, 0].item() == -(2.0**-133)


def test_half_gradients_follow_the_spikes_the_forward_fired():
    """With a detached hard reset, step 2's spike reaches x[0] through step 1 (no spike) undamped. Had backward found
    a spike at step 1 on a rounded H, the reset would have cut that path: x[0]'s gradient would be 0."""
    x16 = torch.tensor(_X, dtype=torch.bfloat16, requires_grad=True)
    x64 = torch.tensor(_X, dtype=torch.float64, requires_grad=True)
    grads = []
    for x, backend in ((x16, "cpu"), (x64, "torch")):
        s, _, _ = multistep("if_", x, [0.0], [1.0, 0.0], surrogate="ATan", surrogate_params=[2.0],
                            detach_reset=True, backend=backend)
        assert s.dtype == x.dtype
        (g,) = torch.autograd.grad(s[2].sum(), [x])
        assert g.dtype == x.dtype
        grads.append(g.double())
    torch.testing.assert_close(grads[0], grads[1], rtol=2e-2, atol=1e-2)
    assert grads[1][0, 0] > 0.5  # the surrogate's derivative at step 2 (z = 0.249)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_parameter_gradients_come_back_in_the_dtype(dtype):
    torch.manual_seed(0)
    x = (torch.rand(5, 40) * 1.5).to(dtype).requires_grad_()
    w = torch.tensor(0.25, dtype=dtype, requires_grad=True)
    s, last, _ = multistep("plif", x, [0.0], [1.0, 0.0, w], surrogate="Sigmoid", backend="cpu")
    gx, gw = torch.autograd.grad((s * torch.linspace(-1, 1, 40, dtype=dtype)).sum() + last[0].sum(), [x, w])
    assert gx.dtype == dtype and gw.dtype == dtype and gw.shape == ()
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    s64, last64, _ = multistep("plif", x64, [0.0], [1.0, 0.0, w64], surrogate="Sigmoid", backend="torch")
    assert torch.equal(s.double(), s64)
    rx, rw = torch.autograd.grad((s64 * torch.linspace(-1, 1, 40, dtype=torch.float64)).sum() + last64[0].sum(),
                                 [x64, w64])
    tol = 3e-2 if dtype == torch.float16 else 1e-1
    torch.testing.assert_close(gx.double(), rx, rtol=tol, atol=tol)
    torch.testing.assert_close(gw.double(), rw, rtol=tol, atol=tol)
