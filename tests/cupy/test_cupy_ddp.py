"""DDP with 2 processes (gloo; on one GPU both ranks share it): the current device stays put around every call.

SpikingJelly's CuPy backend switched the current device inside its kernels, which broke DDP ranks. Here each rank
records ``torch.cuda.current_device()`` and CuPy's current device before and after forward/backward and checks that
the gradients DDP averaged are identical on both ranks.
"""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from sj.backends.registry import get_backend

REASON = get_backend("cupy").availability()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"cupy backend unavailable: {REASON}")


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(16, 64)
        self.tau = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        import sj.neuron  # noqa: F401 - before sj.ops: a bare `import sj.ops` is circular in sj-core at the moment
        from sj.ops import multistep

        y = self.fc(x_seq)
        v0 = torch.zeros(y.shape[1:], device=y.device)
        spike, _, _ = multistep("plif", y, [v0], [1.0, 0.0, self.tau], surrogate="ATan", surrogate_params=(2.0,),
                                backend="cupy")
        return spike.mean(0)


def _rank(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import cupy

    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    device = rank % torch.cuda.device_count()
    torch.cuda.set_device(device)
    torch.manual_seed(0)
    net = torch.nn.parallel.DistributedDataParallel(_Net().cuda(device), device_ids=[device])
    seen = []
    for step in range(3):
        g = torch.Generator(device=f"cuda:{device}").manual_seed(10 * rank + step)
        x = torch.rand(4, 8, 16, device=f"cuda:{device}", generator=g) * 2
        seen.append((torch.cuda.current_device(), cupy.cuda.runtime.getDevice()))
        loss = net(x).square().sum()
        seen.append((torch.cuda.current_device(), cupy.cuda.runtime.getDevice()))
        loss.backward()
        torch.cuda.synchronize(device)
        seen.append((torch.cuda.current_device(), cupy.cuda.runtime.getDevice()))
    grads = [p.grad.detach().cpu() for p in net.parameters()]
    with open(os.path.join(out_dir, f"rank{rank}.pkl"), "wb") as f:
        pickle.dump({"device": device, "seen": seen, "grads": grads}, f)
    torch.distributed.destroy_process_group()


def test_ddp_two_processes_keep_current_device(tmp_path) -> None:
    world = 2
    torch.multiprocessing.spawn(_rank, args=(world, str(tmp_path / "init"), str(tmp_path)), nprocs=world, join=True)
    results = [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in range(world)]
    for r in results:
        assert all(pair == (r["device"], r["device"]) for pair in r["seen"]), r["seen"]
    for a, b in zip(results[0]["grads"], results[1]["grads"]):
        assert torch.equal(a, b)
    assert any(g.abs().sum() > 0 for g in results[0]["grads"])
