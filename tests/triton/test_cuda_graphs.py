"""On a GPU: a training step of a 3-layer convolutional SNN whose neurons run on the ``triton`` or the ``cupy``
backend is captured in a CUDA graph and replayed with the results of eager execution, and compiles under
``torch.compile(mode="reduce-overhead")`` (which captures CUDA graphs itself) with eager's results.

Both GPU backends are checked here (the cupy cases skip with the backend's reason when it is unavailable). Without a
GPU everything skips; the host-side capture safety (no synchronisation, no allocation outside torch's allocator) is
checked on CPU in ``tests/triton/compiled/checks_host.py`` and ``tests/cupy/test_cupy_host.py``.
"""

from __future__ import annotations

import _triton_env  # noqa: F401 - sets TRITON_INTERPRET=1 when there is no GPU
import pytest
import torch
from _triton_env import ON_GPU

import sj.neuron.builtin  # noqa: F401
from sj.backends.registry import unsupported_reason
from sj.ops import MultiStepSpec, multistep

pytestmark = pytest.mark.skipif(not ON_GPU, reason="CUDA graphs need a GPU")
T, BATCH, SIDE = 4, 2, 16
BACKENDS = ["triton", "cupy"]


def _skip_unless(backend: str) -> None:
    spec = MultiStepSpec("plif", "ATan", (2.0,), False, False, False)
    reason = unsupported_reason(backend, spec, torch.device("cuda"), torch.float32)
    if reason is not None:
        pytest.skip(reason)


class ConvSNN(torch.nn.Module):
    """Three conv → PLIF blocks over ``[T, B, C, H, W]`` (time folded into the batch for the convolutions), each
    PLIF with a learnable ``w`` (a parameter gradient through the neuron kernels)."""

    def __init__(self, backend: str) -> None:
        super().__init__()
        self.backend = backend
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
                                         for c_in, c_out in ((2, 8), (8, 8), (8, 4)))
        self.w = torch.nn.Parameter(torch.tensor([0.0, 0.3, -0.2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, w in zip(self.convs, self.w):
            x = conv(x.flatten(0, 1)).unflatten(0, (T, BATCH))
            v0 = torch.zeros(x.shape[1:], device=x.device)
            x, _, _ = multistep("plif", x, [v0], [1.0, 0.0, w], surrogate="ATan", surrogate_params=[2.0],
                                backend=self.backend)
        return x.mean(0)


def _inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.rand(T, BATCH, 2, SIDE, SIDE, device="cuda", generator=g) * 3
    target = torch.rand(BATCH, 4, SIDE, SIDE, device="cuda", generator=g)
    return x, target


def _step(net: ConvSNN, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    loss = (net(x) - target).square().mean()
    loss.backward()
    return loss


def _eager(net: ConvSNN, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    net.zero_grad(set_to_none=False)
    loss = _step(net, x, target)
    return loss.detach().clone(), [p.grad.detach().clone() for p in net.parameters()]


@pytest.fixture(autouse=True)
def deterministic():
    before = torch.backends.cudnn.deterministic
    torch.backends.cudnn.deterministic = True
    yield
    torch.backends.cudnn.deterministic = before


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_step_replays_in_a_cuda_graph(backend):
    _skip_unless(backend)
    torch.manual_seed(0)
    net = ConvSNN(backend).cuda()
    static_x, static_target = _inputs(0)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up: compile, plan, tune, before capture
        for _ in range(3):
            net.zero_grad(set_to_none=False)
            _step(net, static_x, static_target)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    net.zero_grad(set_to_none=False)
    with torch.cuda.graph(graph):
        static_loss = _step(net, static_x, static_target)
    for seed in (1, 2):
        x, target = _inputs(seed)
        static_x.copy_(x)
        static_target.copy_(target)
        net.zero_grad(set_to_none=False)
        graph.replay()
        torch.cuda.synchronize()
        replayed = (static_loss.clone(), [p.grad.clone() for p in net.parameters()])
        loss, grads = _eager(net, x, target)
        torch.testing.assert_close(replayed[0], loss, rtol=1e-6, atol=1e-7)
        assert replayed[0] > 0 and any(g.abs().sum() > 0 for g in grads[-1:])
        for a, b in zip(replayed[1], grads):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_torch_compile_reduce_overhead(backend):
    _skip_unless(backend)
    torch.manual_seed(0)
    net = ConvSNN(backend).cuda()
    compiled = torch.compile(net, mode="reduce-overhead")
    for seed in range(4):
        x, _ = _inputs(seed)
        got = compiled(x).detach().clone()
        torch.testing.assert_close(got, net(x).detach(), rtol=1e-5, atol=1e-6)
