"""Edge calls of the op on the cpu backend: an absent last-state gradient (None in the op's grad_states_last) reaches
the C kernels as a null pointer and counts as zero; with T = 0 (a direct op call; multistep refuses it) the states and
their gradients pass through instead of being left uninitialised. A second derivative through the kernels raises."""

import pytest
import torch

from sj.neuron import declaration
from sj.ops import multistep
from sj.ops.spec import MultiStepSpec

_OP_ARGS = ("cpu", "lif", "ATan", [2.0], False, False, False)


def _backward(h, x, v0, params, grad_spike, grad_last):
    return torch.ops.sj.multistep_bwd(*_OP_ARGS, [h], x, [v0], params, [False] * 3, grad_spike, grad_last, None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("T", [0, 1, 6])
def test_none_equals_zeros_at_the_kernel(dtype, T):
    gen = torch.Generator().manual_seed(T)
    n = 203  # not a multiple of the SIMD width or of the thread count
    h = torch.rand(T, n, generator=gen).to(dtype) * 2
    x = torch.empty(0, dtype=dtype)
    v0 = torch.rand(n, generator=gen).to(dtype)
    params = [torch.tensor(v, dtype=dtype) for v in (1.0, 0.0, 2.0)]
    gs = torch.rand(T, n, generator=gen).to(dtype) - 0.5
    with_none = _backward(h, x, v0, params, gs, [None])
    with_zeros = _backward(h, x, v0, params, gs, [torch.zeros(n, dtype=dtype)])
    assert torch.equal(with_none[0], with_zeros[0]) and torch.equal(with_none[1][0], with_zeros[1][0])
    if T == 0:
        assert torch.equal(with_none[1][0], torch.zeros(n, dtype=dtype))


def test_module_gradients_without_the_last_state_match_the_reference():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(7, 300, dtype=torch.float64, generator=gen) * 2
    g = torch.rand(7, 300, dtype=torch.float64, generator=gen) - 0.5

    def grads(backend):
        xg = x.clone().requires_grad_()
        spike, _, _ = multistep("plif", xg, [torch.zeros(300, dtype=torch.float64)], [1.0, 0.0, 0.3],
                                surrogate="ATan", surrogate_params=[2.0], backend=backend)
        return torch.autograd.grad((spike * g).sum(), xg)[0]

    torch.testing.assert_close(grads("cpu"), grads("torch"), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_steps_pass_the_states_through(dtype):
    v0 = torch.linspace(-1, 1, 203, dtype=dtype)
    params = [torch.tensor(v, dtype=dtype) for v in (1.0, 0.0, 2.0)]
    for backend in ("cpu", "torch"):
        x = torch.empty(0, 203, dtype=dtype)
        spike, (last,), _, (h,) = torch.ops.sj.multistep_fwd(backend, *_OP_ARGS[1:], True, x, [v0], params)
        assert spike.shape == h.shape == (0, 203) and torch.equal(last, v0)
        g = torch.linspace(2, 3, 203, dtype=dtype)
        grad_x, (grad_v0,), _ = torch.ops.sj.multistep_bwd(backend, *_OP_ARGS[1:], [h], torch.empty(0, dtype=dtype),
                                                           [v0], params, [False] * 3, spike, [g], None)
        assert grad_x.shape == (0, 203) and torch.equal(grad_v0, g)


def test_a_backward_that_reads_x_refuses_an_x_of_the_wrong_shape():
    """KLIF's backward reads x_seq; a direct op call giving an empty x gets an error naming it, not an out-of-bounds
    read."""
    spec = MultiStepSpec("klif", "ATan", (2.0,), False, False, False)
    assert spec.program["needs_x"]
    n_params = len(declaration.get("klif").param_names)
    params = [torch.tensor(1.0), torch.tensor(0.0)] + [torch.tensor(2.0)] * (n_params - 2)
    cfg = ("cpu", "klif", "ATan", [2.0], False, False, False)
    x, v0 = torch.rand(3, 40), torch.zeros(40)
    spike, _, _, saved = torch.ops.sj.multistep_fwd(*cfg, True, x, [v0], params)
    with pytest.raises(ValueError, match="reads x_seq, got shape \\(0,\\)"):
        torch.ops.sj.multistep_bwd(*cfg, saved, torch.empty(0), [v0], params, [False] * n_params, spike, [None], None)
    grad_x, _, _ = torch.ops.sj.multistep_bwd(*cfg, saved, x, [v0], params, [False] * n_params, spike, [None], None)
    assert grad_x.shape == x.shape and torch.isfinite(grad_x).all()


@pytest.mark.parametrize("shape", [(0, 203), (5, 0)], ids=["T=0", "N=0"])
def test_scalar_parameter_gradients_of_an_empty_call_are_zero(shape):
    """The kernel writes a 0-d parameter's gradient itself (its sum over the neurons): with no step or no neuron it
    must write 0, not leave the output uninitialised."""
    T, n = shape
    params = [torch.tensor(v) for v in (1.0, 0.0, 2.0)]
    x, v0 = torch.rand(T, n), torch.rand(n)
    _, _, _, saved = torch.ops.sj.multistep_fwd(*_OP_ARGS, True, x, [v0], params)
    for _ in range(3):  # fresh outputs may hold anything; every call must overwrite them
        _, _, grads = torch.ops.sj.multistep_bwd(*_OP_ARGS, saved, torch.empty(0), [v0], params, [True] * 3,
                                                 torch.ones(T, n), [None], None)
        assert [g.shape for g in grads] == [()] * 3 and all(float(g) == 0.0 for g in grads)


def test_direct_op_calls_with_non_contiguous_tensors_match_contiguous_ones():
    """Views that are not contiguous (columns of a wider tensor, an expanded gradient) given straight to the ops: the
    kernels get contiguous copies that stay alive until they return (a freed temporary once fed the backward garbage
    where the allocator had written into it)."""
    gen = torch.Generator().manual_seed(5)
    T, n = 6, 3000
    wide = torch.rand(T, 2 * n, dtype=torch.float64, generator=gen) * 3
    x = wide[:, ::2]  # every other column
    v0 = (torch.rand(2 * n, dtype=torch.float64, generator=gen) * 0.5)[1::2]
    tau = torch.linspace(1.5, 4.0, 2 * n, dtype=torch.float64)[::2]
    params = [torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64), tau]
    grad_spikes = {"columns": (torch.rand(T, 2 * n, dtype=torch.float64, generator=gen) - 0.5)[:, 1::2],
                   "expanded": torch.tensor(0.25, dtype=torch.float64).expand(T, n)}
    assert not any(t.is_contiguous() for t in (x, v0, tau, *grad_spikes.values()))

    def run(backend, contiguous, grad_spike):
        c = (lambda t: t.contiguous()) if contiguous else (lambda t: t)
        ps = [c(p) for p in params]
        _, last, _, saved = torch.ops.sj.multistep_fwd(backend, "lif", "ATan", [2.0], False, False, False, True,
                                                       c(x), [c(v0)], ps)
        grads = torch.ops.sj.multistep_bwd(backend, "lif", "ATan", [2.0], False, False, False, saved, c(x), [c(v0)],
                                           ps, [False, False, True], c(grad_spike), [None], None)
        return [last[0], saved[0], grads[0], grads[1][0], *grads[2]]

    for name, grad_spike in grad_spikes.items():
        want = run("torch", True, grad_spike)
        for _ in range(3):  # a freed temporary is not always overwritten at once
            for got, ref in zip(run("cpu", False, grad_spike), want, strict=True):
                torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12, msg=name)


def test_second_derivative_through_a_cpu_kernel_raises_and_first_order_is_unchanged():
    """The kernels' gradients carry no graph: differentiating them again raises (sj.ops' guard) instead of leaving
    the neuron's terms out; taken with create_graph=True they keep their values."""
    from sj import neuron

    x = (torch.rand(6, 16384, generator=torch.Generator().manual_seed(1)) * 2).requires_grad_()
    node = neuron.ParametricLIFNode(init_tau=2.0, step_mode="m", backend="cpu")
    first = torch.autograd.grad((node(x) * x).sum(), [x, node.w], create_graph=True)
    node.reset()
    plain = torch.autograd.grad((node(x) * x).sum(), [x, node.w])
    for a, b in zip(first, plain):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="a spiking neuron's backward is not differentiable"):
        torch.autograd.grad(first[0].sum() + first[1], x)


def test_training_after_an_inference_mode_evaluation_of_the_same_shape():
    """train → evaluate under inference_mode → reset_net → train on the cpu backend (pooled outputs made under
    inference mode are fresh tensors per call; the neuron's kept reset state is made outside it)."""
    from sj import functional, neuron

    node = neuron.LIFNode(step_mode="m", backend="cpu")
    x = torch.rand(4, 16384, requires_grad=True)
    for _ in range(2):
        node(x).sum().backward()
        functional.reset_net(node)
        with torch.inference_mode():
            node(x.detach())
        functional.reset_net(node)
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_activation_checkpointing_on_the_cpu_backend():
    """Plain torch.utils.checkpoint around a neuron refuses a recomputation from the state its last call left; a
    checkpointed function that starts with reset_net gives the plain run's gradients (pooled outputs included)."""
    from torch.utils.checkpoint import checkpoint

    from sj import functional, neuron
    from sj.base import StateRecomputeError

    node = neuron.ParametricLIFNode(step_mode="m", backend="cpu")
    x = (torch.rand(4, 2, 2**15) * 2).requires_grad_()  # 1 MiB per [T, N]: pooled outputs
    node(x).square().sum().backward()
    plain = (x.grad.clone(), node.w.grad.clone())
    x.grad = node.w.grad = None

    def run(inp):
        functional.reset_net(node)
        return node(inp)

    checkpoint(run, x, use_reentrant=False).square().sum().backward()
    torch.testing.assert_close(x.grad, plain[0], rtol=0, atol=0)
    torch.testing.assert_close(node.w.grad, plain[1], rtol=0, atol=0)
    y = checkpoint(node, x, use_reentrant=False)
    with pytest.raises(StateRecomputeError, match="ParametricLIFNode"):
        y.sum().backward()
