"""The output-buffer pool: reuse after free, never while autograd (or a user) still holds the memory."""

import gc
import threading

import pytest
import torch

from sj.backends.registry import get_backend
from sj.cpu.pool import BufferPool
from sj.ops import multistep


def test_pool_reuses_only_freed_blocks():
    pool = BufferPool(min_bytes=0, max_idle_bytes=1 << 30)
    a = pool.empty((4, 1000), torch.float32)
    pa = a.data_ptr()
    view = a[1:]
    del a
    b = pool.empty((4, 1000), torch.float32)
    assert b.data_ptr() != pa  # the view keeps the block alive
    del view
    c = pool.empty((4, 1000), torch.float32)
    assert c.data_ptr() == pa and c.shape == (4, 1000) and c.dtype == torch.float32
    assert pool.stats().reused_blocks == 1
    assert b.data_ptr() % 64 == 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.bool])
def test_pool_serves_16_bit_and_bool_tensors_and_keeps_the_block_while_a_view_lives(dtype):
    pool = BufferPool(min_bytes=0, max_idle_bytes=1 << 30)
    a = pool.empty((3, 500), dtype)
    assert a.dtype == dtype and a.shape == (3, 500) and a.is_contiguous()
    src = torch.rand(3, 500) > 0.5 if dtype == torch.bool else torch.randn(3, 500).to(dtype)
    a.copy_(src)
    assert torch.equal(a, src)
    pa, row = a.data_ptr(), a[2]  # bfloat16 is a view of an int16 block: the view must hold the block too
    del a
    b = pool.empty((3, 500), dtype)
    assert b.data_ptr() != pa and torch.equal(row, src[2])
    del row
    assert pool.empty((3, 500), dtype).data_ptr() == pa


def test_pool_caps_idle_memory():
    pool = BufferPool(min_bytes=0, max_idle_bytes=1 << 20)
    ts = [pool.empty((1 << 17,), torch.float64) for _ in range(4)]  # 1 MiB each
    del ts
    assert pool.stats().idle_bytes <= 1 << 20
    pool.clear()
    assert pool.stats().idle_blocks == 0


def test_a_block_in_a_reference_cycle_returns_only_when_the_cycle_is_collected():
    pool = BufferPool(min_bytes=0, max_idle_bytes=1 << 30)
    gc.disable()
    try:
        a = pool.empty((2, 100), torch.float64)
        pa = a.data_ptr()
        holder = {"t": a}
        holder["self"] = holder  # a cycle: freed by the collector only
        del a, holder
        assert pool.empty((2, 100), torch.float64).data_ptr() != pa
        gc.collect()
        assert pool.empty((2, 100), torch.float64).data_ptr() == pa
    finally:
        gc.enable()


def test_threads_never_share_a_lent_block():
    pool = BufferPool(min_bytes=0, max_idle_bytes=1 << 30)
    errors = []

    def work(k: int) -> None:
        for _ in range(300):
            t = pool.empty((256,), torch.float32)
            t.fill_(k)
            threading.Event().wait(0)  # let the other threads lend and write meanwhile
            if not bool((t == k).all()):
                errors.append(k)
            del t

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert pool.stats().reused_blocks > 0


@pytest.fixture
def small_pool():
    b = get_backend("cpu")
    old = b.pool
    b.pool = BufferPool(min_bytes=0, max_idle_bytes=1 << 30)
    yield b.pool
    b.pool = old


def _run(backend, x, tau):
    return multistep("plif", x, [torch.zeros(x.shape[1:])], [1.0, 0.0, tau], surrogate="ATan",
                     surrogate_params=[2.0], backend=backend)[0]


def test_saved_h_of_pending_graph_is_not_reused(small_pool):
    torch.manual_seed(0)
    x1 = (torch.rand(5, 300) * 2).requires_grad_()
    x2 = (torch.rand(5, 300) * 2).requires_grad_()
    w = torch.tensor(0.3, requires_grad=True)
    s1 = _run("cpu", x1, w)
    stats = small_pool.stats()
    s2 = _run("cpu", x2, w)  # graph 1 still holds its saved H: graph 2 must not overwrite it
    assert small_pool.stats().allocated_blocks > stats.allocated_blocks
    for _ in range(3):  # churn: free and re-allocate outputs while graph 1 is pending
        _run("cpu", x2.detach(), 0.1).sum()
    g1 = torch.autograd.grad(s1.sum(), [x1, w])
    ref = torch.autograd.grad(_run("torch", x1, w).sum(), [x1, w])
    for a, b in zip(g1, ref):
        torch.testing.assert_close(a, b)
    del s2
    assert small_pool.stats().reused_blocks > 0


GIB = 1 << 30


@pytest.mark.parametrize(("phys", "cgroup", "cap"), [
    (64 * GIB, "max\n", GIB),              # a large machine, no container limit: 1 GiB
    (2 * GIB, "max\n", GIB // 4),          # a 2 GiB board: an eighth of it
    (64 * GIB, f"{4 * GIB}\n", GIB // 2),  # a container limited to 4 GiB on a large host
    (4 * GIB, None, GIB // 2),             # no cgroup v2 file
])
def test_idle_cap_defaults_to_an_eighth_of_usable_memory_up_to_1_gib(monkeypatch, tmp_path, phys, cgroup, cap):
    from sj.cpu import pool as pool_mod

    page = 4096
    monkeypatch.setattr(pool_mod.os, "sysconf", {"SC_PHYS_PAGES": phys // page, "SC_PAGE_SIZE": page}.__getitem__)
    limit = tmp_path / "memory.max"
    if cgroup is not None:
        limit.write_text(cgroup)
    monkeypatch.setattr(pool_mod, "CGROUP_MEMORY_MAX", str(limit))
    monkeypatch.delenv("SJ_CPU_POOL_IDLE_MB", raising=False)
    assert BufferPool().max_idle_bytes == cap
    monkeypatch.setenv("SJ_CPU_POOL_IDLE_MB", "3")  # the variable wins over the default
    assert BufferPool().max_idle_bytes == 3 << 20


@pytest.mark.parametrize(("name", "value"), [("SJ_CPU_POOL_IDLE_MB", "1.5"), ("SJ_CPU_POOL_IDLE_MB", "-1"),
                                             ("SJ_CPU_POOL_MIN_KB", "lots")])
def test_a_bad_pool_size_variable_is_named_in_the_error(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name}='{value}': expected a whole number"):
        BufferPool()


def test_pool_size_variables_are_read_in_their_units(monkeypatch):
    monkeypatch.setenv("SJ_CPU_POOL_MIN_KB", "0")
    monkeypatch.setenv("SJ_CPU_POOL_IDLE_MB", "0")
    pool = BufferPool()
    assert (pool.min_bytes, pool.max_idle_bytes) == (0, 0)
    block = pool.empty((8,), torch.float32)  # pooled (min 0), and dropped on return (cap 0)
    del block
    assert pool.stats().idle_bytes == 0 and pool.stats().allocated_blocks == 1
