"""torch.compile(fullgraph=True) around the cpu backend (the op is a custom op with a fake implementation)."""

import pytest
import torch

from sj.ops import multistep


def _net(x, w):
    s, last, _ = multistep("lif", x * w, [torch.zeros(x.shape[1:], dtype=x.dtype)], [1.0, 0.0, 2.0],
                           surrogate="ATan", surrogate_params=[2.0], backend="cpu")
    return s.sum() + last[0].sum()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_compile_fullgraph_forward_backward(dtype):
    torch.manual_seed(0)
    x = (torch.rand(4, 50) * 2).to(dtype)
    w = torch.tensor(1.1, dtype=dtype, requires_grad=True)
    compiled = torch.compile(_net, fullgraph=True, backend="aot_eager")
    got = compiled(x, w)
    (gw,) = torch.autograd.grad(got, [w])
    ref = _net(x, w)
    (rw,) = torch.autograd.grad(ref, [w])
    assert got.dtype == gw.dtype == dtype
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(gw, rw)
