"""A process forked after the parent ran multi-threaded kernels runs them on one thread instead of hanging (GNU
OpenMP's thread pool does not survive fork()), with the same results and one warning."""

import hashlib
import multiprocessing
import queue as queue_module
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch

from sj.backends.registry import get_backend
from sj.ops import multistep

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork() here")

# over SJ_SERIAL_WORK elements and two SJ_MIN_PIECE pieces: a kernel of two threads
SHAPE = (8, 16384)


# made here, in the parent: torch's own ops on tensors this large run in torch's parallel regions, which hang in a
# forked child (the child below runs sj's kernels and autograd only)
_GEN = torch.Generator().manual_seed(0)
X = (torch.rand(SHAPE, generator=_GEN) * 1.5).requires_grad_()
GRAD = torch.rand(SHAPE, generator=_GEN)
TAU = torch.tensor(2.0, requires_grad=True)


def _digest() -> str:
    """Spikes, last state and both gradients of one LIF call on the cpu backend, hashed."""
    X.grad = TAU.grad = None
    spike, (last,), _ = multistep("lif", X, [torch.zeros(SHAPE[1])], [1.0, 0.0, TAU], surrogate="ATan",
                                  backend="cpu")
    spike.backward(GRAD)
    parts = (spike.detach(), last.detach(), X.grad, TAU.grad)
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in parts)).hexdigest()


def _child(queue, threads: int) -> None:
    torch.set_num_threads(threads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        digests = [_digest(), _digest()]
    queue.put((digests, [str(w.message) for w in caught if "forked child" in str(w.message)],
               get_backend("cpu").details()))


def _in_forked_child(threads: int):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, threads))
    proc.start()
    try:  # read before joining: a child exits only once its queue is drained
        result = queue.get(timeout=60)
    except queue_module.Empty:
        proc.kill()
        proc.join()
        pytest.fail(f"the forked child hung in a cpu kernel with torch threads = {threads}")
    proc.join()
    assert proc.exitcode == 0
    return result


@pytest.fixture
def parent_ran_two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        yield _digest()  # the parent's libgomp now has a pool of worker threads
    finally:
        torch.set_num_threads(before)


def test_forked_child_runs_kernels_on_one_thread_with_one_warning(parent_ran_two_threads):
    digests, messages, details = _in_forked_child(threads=2)
    assert digests == [parent_ran_two_threads] * 2
    assert len(messages) == 1 and "1 thread instead of torch's 2" in messages[0] and "spawn" in messages[0]
    assert "threads: 1 of torch's 2 (a forked child process" in details


def test_forked_child_asking_one_thread_is_not_warned(parent_ran_two_threads):
    digests, messages, details = _in_forked_child(threads=1)
    assert digests == [parent_ran_two_threads] * 2
    assert messages == []
    assert "threads: 1" in details and "forked" not in details


def test_child_forked_before_sj_cpu_was_loaded_is_known_by_its_start_method(tmp_path):
    """The parent ran torch's parallel ops (libgomp's pool exists) but never loaded sj-cpu: the at-fork hook was not
    registered, and the child, loading sj-cpu itself, learns of the fork from multiprocessing."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, queue as queue_module, sys, warnings
        import torch

        def child(queue):
            from sj.ops import multistep
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                spike, _, _ = multistep("lif", X, [torch.zeros(X.shape[1])], [1.0, 0.0, 2.0], surrogate="ATan",
                                        backend="cpu")
            queue.put((spike.numpy().tobytes(), [str(w.message) for w in caught]))

        if __name__ == "__main__":
            torch.set_num_threads(2)
            X = torch.rand(8, 16384) * 1.5
            X.exp()  # a parallel region in the parent
            assert "sj.cpu" not in sys.modules
            ctx = multiprocessing.get_context("fork")
            queue = ctx.Queue()
            proc = ctx.Process(target=child, args=(queue,))
            proc.start()
            try:  # read before joining: the child exits only once its queue is drained
                spikes, messages = queue.get(timeout=60)
            except queue_module.Empty:
                proc.kill()
                sys.exit("the child hung")
            proc.join()
            from sj.ops import multistep
            expected, _, _ = multistep("lif", X, [torch.zeros(X.shape[1])], [1.0, 0.0, 2.0], surrogate="ATan",
                                       backend="cpu")
            assert spikes == expected.numpy().tobytes(), "the child's spikes differ"
            assert sum("forked child" in m for m in messages) == 1, messages
    """))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
