"""Worker for test_training_distributed.py, launched by torchrun: trains a conv SNN for two steps under DDP and
then under FSDP2 (``fully_shard``) on the gloo backend and saves what each rank saw to ``<out>/rank<r>.pt``.

Run: torchrun --nnodes=1 --nproc-per-node=2 --master-addr=127.0.0.1 --master-port=PORT _training_ddp_worker.py OUT_DIR
"""

from __future__ import annotations

import sys
from functools import partial

import torch
import torch.distributed as dist
from _training_nets import conv_snn, loss_fn
from torch.nn.parallel import DistributedDataParallel

from sj import neuron
from sj.functional import reset_net

STEPS, T, N = 2, 4, 4


def model(fsdp: bool = False) -> torch.nn.Module:
    """The conv SNN with learnable time constants. FSDP2 cannot shard 0-d parameters, so there the time constant is
    a 1-element tensor (same dynamics)."""
    torch.manual_seed(0)
    cls = partial(neuron.ParametricLIFNode, init_tau=torch.tensor([2.0])) if fsdp else neuron.ParametricLIFNode
    return conv_snn(neuron_cls=cls).to(torch.float64)


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The global batches (every rank and the single-process reference draw the same ones)."""
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(T, N, 1, 8, 8, generator=g, dtype=torch.float64) * 2, torch.randint(0, 3, (N,), generator=g))
            for _ in range(STEPS)]


def train(net: torch.nn.Module, inner: torch.nn.Module, rank: int, world: int, full_grad) -> dict:
    """Two SGD steps on this rank's share of each global batch; the gradients (full tensors) of each step."""
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    share = N // world
    grads, state_shapes = [], []
    for x, target in batches():
        x, target = x[:, rank * share:(rank + 1) * share], target[rank * share:(rank + 1) * share]
        opt.zero_grad()
        loss_fn(net(x), target).backward()
        grads.append({k: full_grad(p.grad).clone() for k, p in inner.named_parameters()})
        state_shapes.append(tuple(inner[1].v.shape))
        opt.step()
        reset_net(net)
    return {"grads": grads, "state_shapes": state_shapes, "state_dict_keys": sorted(inner.state_dict()),
            "after_reset": [inner[1].v, inner[4].v]}


def main(out: str) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    result = {}

    inner = model()
    ddp = DistributedDataParallel(inner)
    result["ddp"] = train(ddp, inner, rank, world, lambda g: g)

    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        inner = model(fsdp=True)
        mesh = init_device_mesh("cpu", (world,))
        for m in inner:
            if any(True for _ in m.parameters(recurse=False)):
                fully_shard(m, mesh=mesh)
        fully_shard(inner, mesh=mesh)
        result["fsdp"] = train(inner, inner, rank, world, lambda g: g.full_tensor())
    except Exception as exc:  # reported to the test, which decides
        result["fsdp_error"] = f"{type(exc).__name__}: {exc}"
    torch.save(result, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
