"""Capture safety of a backend's host path, checked without a GPU.

A multi-step op can be recorded in a CUDA graph (``torch.cuda.graphs``, ``torch.compile(mode="reduce-overhead")``)
only if its host path allocates through torch's caching allocator and never reads a value back to the host. With
the backend's kernel launches stubbed out (the GPU plug-ins' tests do this on a CPU), :func:`check_capture_safe`
runs one LIF/ATan call and records every aten operation it dispatches.

Usage in a GPU backend package's tests::

    from sj.testing.capture import check_capture_safe

    def test_capture_safe(stubbed_launches):
        check_capture_safe("mybackend")
"""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from sj.backends.registry import get_backend
from sj.ops import MultiStepSpec, multistep

# LIF with the ATan surrogate (alpha 2), hard reset, no detach: the configuration the checks call.
LIF_SPEC = MultiStepSpec("lif", "ATan", (2.0,), False, False, False)
# Operations that only allocate (the outputs of a call).
ALLOCATIONS = frozenset({"aten.empty_like.default", "aten.empty.memory_format"})
# Operations that read a device value back to the host: each would synchronise, and breaks graph capture.
SYNCS = frozenset({"aten._local_scalar_dense.default", "aten.item.default", "aten.nonzero.default",
                   "aten.equal.default"})


class RecordOps(TorchDispatchMode):
    """Records the name (``str(func)``, e.g. ``"aten.empty_like.default"``) of every aten operation run inside it,
    in :attr:`names`."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


def lif_inputs(T: int = 4, n: int = 256, dtype: torch.dtype = torch.float16
               ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """``(x [T, n] in [0, 2), v_init [n] zeros, [v_threshold 1, v_reset 0, tau 2] as 0-d tensors)`` on the CPU."""
    x = torch.rand(T, n, dtype=dtype) * 2
    return x, torch.zeros(n, dtype=dtype), [torch.tensor(v, dtype=dtype) for v in (1.0, 0.0, 2.0)]


def check_capture_safe(backend: str, dtype: torch.dtype = torch.float16) -> None:
    """Raise ``AssertionError`` unless ``backend``'s forward of :data:`LIF_SPEC` allocates nothing but its outputs
    and a whole op through :func:`sj.ops.multistep` (forward and backward, sj-core's checks included, with ``x`` and
    ``tau`` requiring grad) runs no operation of :data:`SYNCS`. The backend's launches must be stubbed (or a GPU
    present) by the caller."""
    x, v0, params = lif_inputs(dtype=dtype)
    with RecordOps() as ops:
        get_backend(backend).forward(LIF_SPEC, x, [v0], params, save=True)
    assert set(ops.names) <= ALLOCATIONS, f"{backend} forward runs more than output allocations: {ops.names}"
    x.requires_grad_()
    tau = params[2].clone().requires_grad_()

    def call() -> None:
        spike, last, _ = multistep("lif", x, [v0], [1.0, 0.0, tau], surrogate="ATan", surrogate_params=[2.0],
                                   backend=backend)
        torch.autograd.grad(spike.float().sum() + last[0].float().sum(), [x, tau])

    call()  # the first call may build plans and compile
    with RecordOps() as ops:
        call()
    assert {"sj.multistep_fwd.default", "sj.multistep_bwd.default"} <= set(ops.names), sorted(set(ops.names))
    assert not set(ops.names) & SYNCS, f"{backend}: host synchronisations {sorted(set(ops.names) & SYNCS)}"
