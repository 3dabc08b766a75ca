"""Plain eager calls run the op's implementation without the dispatcher; everything that must see the op —
dispatch modes, fake and meta tensors, the profiler, functorch — still gets ``sj::multistep_fwd``/``_bwd``, with the
same results."""

import pytest
import torch

from sj.ops import multistep
from sj.testing.capture import RecordOps


def _call(x: torch.Tensor, tau: torch.Tensor):
    return multistep("lif", x, [torch.zeros(x.shape[1:], dtype=x.dtype, device=x.device)], [1.0, 0.0, tau],
                     surrogate="ATan", surrogate_params=[2.0])


def _fwd_bwd(x: torch.Tensor, tau: torch.Tensor, g: torch.Tensor):
    xg, taug = x.clone().requires_grad_(), tau.clone().requires_grad_()
    spike, (last,), _ = _call(xg, taug)
    return [spike, last, *torch.autograd.grad((spike * g).sum() + last.sum(), [xg, taug])]


def test_dispatch_mode_sees_both_ops_and_results_match_the_undispatched_path():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(6, 5, dtype=torch.float64, generator=gen) * 2
    tau, g = torch.tensor(2.5, dtype=torch.float64), torch.rand(6, 5, dtype=torch.float64, generator=gen)
    plain = _fwd_bwd(x, tau, g)
    with RecordOps() as rec:
        recorded = _fwd_bwd(x, tau, g)
    assert "sj.multistep_fwd.default" in rec.names and "sj.multistep_bwd.default" in rec.names
    assert all(torch.equal(a, b) for a, b in zip(plain, recorded))


def test_fake_and_meta_tensors_get_the_ops_shape_functions():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        spike, (last,), _ = _call(torch.rand(4, 3, 2), torch.tensor(2.0))
    assert spike.shape == (4, 3, 2) and last.shape == (3, 2)
    spike, _, _ = _call(torch.full((2, 3, 2), 3.0), torch.tensor(2.0))  # nothing fake leaked into later real calls
    assert type(spike) is torch.Tensor and torch.equal(spike, torch.ones(2, 3, 2))
    spike, (last,), _ = _call(torch.empty(4, 7, device="meta"), torch.tensor(2.0, device="meta"))
    assert spike.device.type == "meta" and spike.shape == (4, 7) and last.shape == (7,)


def test_profiler_records_the_op():
    x = torch.rand(3, 4, requires_grad=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        spike, _, _ = _call(x, torch.tensor(2.0))
        spike.sum().backward()
    names = {e.name for e in prof.events()}
    assert "sj::multistep_fwd" in names and "sj::multistep_bwd" in names


def test_vmap_is_refused_by_the_op_not_run_on_batched_storage():
    x = torch.rand(2, 3, 4)
    with pytest.raises(RuntimeError, match="sj::multistep_fwd"):
        torch.vmap(lambda xb: _call(xb, torch.tensor(2.0))[0])(x)


def test_generated_steps_run_under_vmap_and_spike_as_plain_torch():
    """The reference's spike compares straight into a float tensor (``out=``), which vmap cannot batch: a batched
    tensor takes the cast instead, with the same result (NaN: no spike)."""
    from sj.backends.torch_codegen import step_fns
    from sj.ops import MultiStepSpec

    fns = step_fns(MultiStepSpec("lif", "ATan", (2.0,), False, False, False))
    x = torch.tensor([[0.5, 2.0, float("nan"), 1.5], [3.0, -1.0, 2.5, 0.0]], dtype=torch.float64)
    params = [torch.tensor(v, dtype=torch.float64) for v in (1.0, 0.0, 2.0)]
    plain = fns["forward"](x, torch.zeros_like(x), *params)
    batched = torch.vmap(lambda xb: fns["forward"](xb, torch.zeros_like(xb), *params))(x)
    for a, b in zip(plain, batched):
        torch.testing.assert_close(b, a, equal_nan=True)
    assert plain[0].tolist() == [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]] and plain[0].dtype == torch.float64


def test_neurons_build_and_run_on_meta_yet_numbers_are_still_validated():
    from sj import neuron

    with torch.device("meta"):
        nodes = [neuron.IFNode(), neuron.LIFNode(tau=2.0), neuron.ParametricLIFNode(init_tau=3.0),
                 neuron.QIFNode(), neuron.EIFNode(), neuron.IzhikevichNode(), neuron.KLIFNode(),
                 neuron.CUBALIFNode()]
        for node in nodes:
            node.step_mode = "m"
            assert all(t.device.type == "meta" for t in (*node.parameters(), *node.buffers()))
            out = node(torch.empty(3, 2, 5))
            assert out.device.type == "meta" and out.shape == (3, 2, 5)
        with pytest.raises(ValueError, match="tau must be > 1"):
            neuron.LIFNode(tau=0.5)
        with pytest.raises(ValueError, match="init_tau must be > 1"):
            neuron.ParametricLIFNode(init_tau=1.0)


def test_shared_constant_is_made_once_per_value_dtype_and_device():
    from sj.backends.base import shared_constant

    a = shared_constant(0.375, torch.float64, torch.device("cpu"))
    assert a is shared_constant(0.375, torch.float64, torch.device("cpu")) and a.shape == () and a.item() == 0.375
    assert shared_constant(0.375, torch.float32, torch.device("cpu")) is not a
    assert shared_constant((1.0, 2.0), torch.float32, torch.device("cpu")).tolist() == [1.0, 2.0]
    assert shared_constant((), torch.float32, torch.device("cpu")).tolist() == [0.0]  # always a valid pointer
    with torch.inference_mode():
        made_inside = shared_constant(0.4375, torch.float32, torch.device("cpu"))
    assert not made_inside.is_inference()


def test_a_backend_gets_contiguous_tensors_from_direct_op_calls(monkeypatch):
    """The backend contract (sj.backends.base) holds when the ops are called directly with views."""
    from sj.backends.torch_backend import TorchBackend

    seen = []
    forward, backward = TorchBackend.forward, TorchBackend.backward

    def checked_forward(self, spec, x_seq, state_init, params, save):
        seen.append(all(t.is_contiguous() for t in (x_seq, *state_init, *params)))
        return forward(self, spec, x_seq, state_init, params, save)

    def checked_backward(self, spec, inputs):
        tensors = (*inputs.saved, inputs.x_seq, *inputs.state_init, *inputs.params, inputs.grad_spike,
                   *(g for g in inputs.grad_states_last if g is not None))
        seen.append(all(t.is_contiguous() for t in tensors))
        return backward(self, spec, inputs)

    monkeypatch.setattr(TorchBackend, "forward", checked_forward)
    monkeypatch.setattr(TorchBackend, "backward", checked_backward)
    wide = torch.rand(5, 8, dtype=torch.float64) * 2
    x, v0, tau = wide[:, ::2], wide[0, 1::2], torch.linspace(1.5, 3.0, 8, dtype=torch.float64)[::2]
    one, zero = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    _, _, _, saved = torch.ops.sj.multistep_fwd("torch", "lif", "ATan", [2.0], False, False, False, True, x, [v0],
                                                [one, zero, tau])
    torch.ops.sj.multistep_bwd("torch", "lif", "ATan", [2.0], False, False, False, [saved[0].t().contiguous().t()],
                               x, [v0], [one, zero, tau], [False, False, True], wide[:, 1::2], [v0], None)
    assert seen == [True, True]
