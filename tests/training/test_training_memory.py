"""PeakMemory counts the storages created inside the block, once each (views included), until they are freed."""

import torch

from sj.training import PeakMemory


def test_peak_and_current_bytes():
    before = torch.ones(1000)  # existed before the block: not counted
    with PeakMemory() as mem:
        a = torch.zeros(1000)  # 4000 B
        b = a.view(10, 100) + before.view(10, 100)  # a view is the same storage; b is 4000 B more
        c = torch.zeros(500, dtype=torch.float64)  # 4000 B
        assert mem.current == 12000
        del a, b
        d = c * 2  # the sweep at this op sees a and b freed
        assert mem.current == 8000
    assert mem.peak == 12000
    del c, d


def test_backward_and_saved_tensors_are_seen():
    x = torch.rand(256, requires_grad=True)
    with PeakMemory() as mem:
        y = x.exp()  # output saved by exp's backward
        z = y.sin()  # y saved by sin's backward (already counted)
        saved = mem.current
        z.sum().backward()
    assert saved == 2 * 256 * 4
    assert mem.peak >= saved + 256 * 4  # plus the gradient x.grad at least
