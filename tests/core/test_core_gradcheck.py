"""The derived backward-through-time is the exact gradient of the smooth map obtained by replacing the spike Θ(z)
with the surrogate's primitive: verified with torch.autograd.gradcheck (finite differences, float64)."""

import pytest
import torch
from torch.autograd.gradcheck import GradcheckError

from sj.backends.base import BackwardInputs
from sj.backends.torch_backend import run_backward, run_forward
from sj.backends.torch_codegen import step_fns
from sj.neuron import builtin, declaration
from sj.ops import MultiStepSpec
from sj.surrogate.declarations import BUILTIN_SURROGATES, surrogates
from sj.testing.cases import CUSTOM_NEURON, PARAMS

# Surrogates whose primitive is C¹ (continuous derivative): finite differences are then valid at every point.
# Rect, LeakyKReLU, LogTailedReLU and PiecewiseLeakyReLU have derivative jumps; they are checked pointwise away from
# the jumps in test_core_surrogates.py.
KINKED = {"Rect", "LeakyKReLU", "LogTailedReLU", "PiecewiseLeakyReLU"}
SMOOTH_SURROGATES = [n for n in BUILTIN_SURROGATES if surrogates.get(n).primitive is not None and n not in KINKED]


class SmoothMultiStep(torch.autograd.Function):
    """The reference loops with the smooth step functions, wired to autograd by hand (as sj.ops does)."""

    @staticmethod
    def forward(ctx, spec, x, *flat):
        n = len(spec.decl.state_names)
        states, params = list(flat[:n]), list(flat[n:])
        fns = step_fns(spec, smooth=True)
        spike, last, v_seq, saved = run_forward(fns, spec, x, states, params, True)
        ctx.spec, ctx.n = spec, n
        ctx.save_for_backward(x, *states, *params, *saved)
        return spike, v_seq, *last

    @staticmethod
    def backward(ctx, g_spike, g_vseq, *g_last):
        spec, n = ctx.spec, ctx.n
        t = ctx.saved_tensors
        x, states = t[0], list(t[1:1 + n])
        n_p = len(spec.decl.param_names)
        params, saved = list(t[1 + n:1 + n + n_p]), list(t[1 + n + n_p:])
        inputs = BackwardInputs(saved, x, states, params, [True] * n_p, g_spike, list(g_last), g_vseq)
        gx, g_init, g_params = run_backward(step_fns(spec, smooth=True), spec, inputs)
        return None, gx, *g_init, *(g.sum_to_size(p.shape) for g, p in zip(g_params, params))


def _value(neuron, name, soft):
    base = {**PARAMS[neuron], "v_threshold": 1.0, "v_reset": 0.0 if soft else -0.1}
    return base[name]


NEURONS = [*builtin.BUILTIN_NEURONS, CUSTOM_NEURON.name]


# detach_reset deliberately drops ∂V/∂S, so its backward is not the gradient of any map: it is checked against
# autograd of the single-step function instead (test_core_multistep.py).
@pytest.mark.parametrize("neuron", NEURONS)
@pytest.mark.parametrize("soft", [False, True])
def test_gradcheck_every_neuron(neuron, soft):
    sg = SMOOTH_SURROGATES[(NEURONS.index(neuron) * 2 + soft) % len(SMOOTH_SURROGATES)]
    _gradcheck(neuron, sg, soft, False)


@pytest.mark.parametrize("sg", SMOOTH_SURROGATES)
def test_gradcheck_every_surrogate(sg):
    _gradcheck("plif", sg, soft=False, detach=False)
    _gradcheck("izhikevich", sg, soft=True, detach=False)


def _gradcheck(neuron, sg, soft, detach):
    torch.manual_seed(1)
    decl = declaration.get(neuron)
    spec = MultiStepSpec(neuron, sg, surrogates.get(sg).defaults, soft, detach, True)
    scale = 0.5 if neuron in ("qif", "eif", "izhikevich") else 1.0
    x = (torch.rand(4, 3, dtype=torch.float64) * 1.6 - 0.3) * scale
    states = [torch.rand(3, dtype=torch.float64) * 0.4 - 0.2 for _ in decl.state_names]
    params = [torch.tensor(_value(neuron, p, soft), dtype=torch.float64) + 0.01 * torch.rand(3, dtype=torch.float64)
              for p in decl.param_names]
    leaves = [t.requires_grad_() for t in (x, *states, *params)]
    assert torch.autograd.gradcheck(lambda *a: SmoothMultiStep.apply(spec, *a), leaves, eps=1e-6, atol=1e-6,
                                    rtol=1e-5)


def test_gradcheck_detects_a_wrong_derivative(monkeypatch):
    """The check above can fail: perturb the derived backward and gradcheck must reject it."""
    spec = MultiStepSpec("lif", "Sigmoid", (4.0,), False, False, True)
    fns = dict(step_fns(spec, smooth=True))  # also fills the cache entry replaced below
    good = fns["backward"]
    fns["backward"] = lambda *a: tuple(g * 1.01 if i == 0 else g for i, g in enumerate(good(*a)))
    import sj.backends.torch_codegen as cg

    key = next(k for k in cg._cache if k[0] == "lif" and k[4] == "Sigmoid" and k[5] is not None)
    monkeypatch.setitem(cg._cache, key, fns)
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    v = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    ps = [torch.tensor(v_, dtype=torch.float64, requires_grad=True) for v_ in (1.0, 0.0, 2.0)]
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(lambda *a: SmoothMultiStep.apply(spec, *a), [x, v, *ps], eps=1e-6, atol=1e-6)
