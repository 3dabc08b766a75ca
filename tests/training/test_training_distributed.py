"""DDP and FSDP2 on 2 gloo processes (torchrun, localhost) give the single-process gradients on the same global batch.

Tolerance: float64, rtol 1e-10 / atol 1e-13 — the all-reduce averages per-rank gradient sums, so only the summation
order differs from one process summing the whole batch.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _training_ddp_worker import N, batches, model
from _training_nets import loss_fn

from sj.functional import reset_net

HERE = Path(__file__).parent
WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("ddp")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={WORLD}",
           "--master-addr=127.0.0.1", f"--master-port={_free_port()}", str(HERE / "_training_ddp_worker.py"), str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def _reference(fsdp: bool) -> list[dict[str, torch.Tensor]]:
    net = model(fsdp)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    grads = []
    for x, target in batches():
        opt.zero_grad()
        loss_fn(net(x), target).backward()
        grads.append({k: p.grad.clone() for k, p in net.named_parameters()})
        opt.step()
        reset_net(net)
    return grads


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_processes_give_the_single_process_gradients(ranks, mode):
    assert all(mode in r for r in ranks), ranks[0].get("fsdp_error")
    ref = _reference(fsdp=mode == "fsdp")
    for r in ranks:
        for step, (got, want) in enumerate(zip(r[mode]["grads"], ref, strict=True)):
            assert sorted(got) == sorted(want)
            for k in want:
                assert want[k].abs().sum() > 0, (step, k)
                torch.testing.assert_close(got[k], want[k], rtol=1e-10, atol=1e-13, msg=f"step {step} {k}")


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_state_is_per_replica_and_never_in_state_dict_or_buckets(ranks, mode):
    for r in ranks:
        res = r[mode]
        assert res["state_shapes"] == [(N // WORLD, 4, 8, 8)] * 2  # each replica's own share of the batch
        assert res["after_reset"] == [0.0, 0.0]
        keys = res["state_dict_keys"]
        assert not any(k.endswith((".v", ".v_seq")) for k in keys)
        assert {k for k in keys if not k.endswith(("_extra_state", "v_reset", "v_threshold"))} == set(res["grads"][0])
