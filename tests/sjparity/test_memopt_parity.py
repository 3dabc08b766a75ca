"""sj.memopt against SpikingJelly 2.0's ``activation_based.memopt``: the same compressed bytes, the same outputs and
gradients through checkpointing (twin networks with sj's and SpikingJelly's neurons, shared weights), the same
level-1 choices of ``optimize_memory``, and a lower measured peak (float64: gradients to 1e-12; recomputation
changes no arithmetic, only when it runs)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from oracle import spikingjelly
from torch import nn

import sj.memopt as mo
from sj import layer
from sj import neuron as sjn
from sj import surrogate as sjs
from sj.functional import reset_net
from sj.training import PeakMemory


@pytest.fixture(scope="module")
def SJ():
    return spikingjelly("activation_based.memopt")


@pytest.fixture(scope="module")
def SJA():
    return SimpleNamespace(**{m: spikingjelly(f"activation_based.{m}") for m in ("neuron", "surrogate", "functional")})


@pytest.mark.parametrize("name", ["BitSpikeCompressor", "BooleanSpikeCompressor", "Uint8SpikeCompressor",
                                  "SparseSpikeCompressor"])
def test_compressors_store_the_same_values(SJ, name):
    x = (torch.rand(5, 3, 7, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    ours, theirs = getattr(mo, name)().compress(x), getattr(SJ, name)().compress(x)
    assert torch.equal(ours[0].reshape(theirs[0].shape), theirs[0]) and ours[0].dtype == theirs[0].dtype
    assert ours[1:] == theirs[1:]
    assert torch.equal(getattr(mo, name)().decompress(theirs), getattr(SJ, name)().decompress(ours))


def test_checkpoint_function_gradients_match(SJ):
    torch.manual_seed(0)
    lin = nn.Linear(16, 4).double()
    a = torch.randn(6, 16, dtype=torch.float64, requires_grad=True)
    grads = []
    for fn in (mo.checkpoint, SJ.checkpoint):
        a.grad = lin.weight.grad = None
        s = sjs.ATan()(a)
        out = fn(lambda t, scale: lin(t) * scale, s, 2.0, compressor=mo.BitSpikeCompressor() if fn is mo.checkpoint
                 else SJ.BitSpikeCompressor())
        out.square().sum().backward()
        grads.append((out.detach(), a.grad.clone(), lin.weight.grad.clone()))
    for x, y in zip(*grads, strict=True):
        assert torch.equal(x, y)


def snn(neuron_module, surrogate_module) -> nn.Sequential:
    def lif():
        return neuron_module.LIFNode(tau=2.0, v_threshold=0.5, surrogate_function=surrogate_module.ATan(),
                                     step_mode="m")

    torch.manual_seed(0)
    net = nn.Sequential(layer.Conv2d(1, 4, 3, padding=1, step_mode="m"), layer.BatchNorm2d(4, step_mode="m"), lif(),
                        layer.Conv2d(4, 4, 3, padding=1, step_mode="m"), lif(), layer.Flatten(step_mode="m"),
                        layer.Linear(4 * 6 * 6, 3, step_mode="m")).double()
    with torch.no_grad():
        net[0].weight.mul_(3)
    return net


X = torch.rand(6, 2, 1, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2


def train_step(net, reset):
    reset(net)
    for p in net.parameters():
        p.grad = None
    out = net(X)
    out.square().sum().backward()
    batch_norm = [b.clone() for m in net.modules() if isinstance(m, nn.BatchNorm2d) for b in m.buffers()]
    return out.detach(), [p.grad.clone() for p in net.parameters()], batch_norm


def assert_same(a, b):
    assert torch.equal(a[0], b[0]) and a[0].abs().sum() > 0
    for x, y in zip(a[1], b[1], strict=True):
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)
    for x, y in zip(a[2], b[2], strict=True):  # BatchNorm statistics: updated once per call
        torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("chunks", [1, 3])
def test_checkpoint_module_matches_spikingjelly(SJ, SJA, chunks):
    def build(neuron_module, surrogate_module):
        net = snn(neuron_module, surrogate_module)
        if chunks > 1:  # BatchNorm in training mode would normalise each chunk on its own (in both libraries)
            net[1].eval()
        return net

    plain = train_step(build(sjn, sjs), reset_net)
    ours = train_step(mo.checkpoint_module(build(sjn, sjs), chunks=chunks), reset_net)
    theirs = train_step(SJ.checkpoint_module(build(SJA.neuron, SJA.surrogate), chunks=chunks),
                        SJA.functional.reset_net)
    assert_same(ours, plain)
    assert_same(ours, theirs)


def test_optimize_memory_level_1_makes_spikingjellys_choices(SJ, SJA):
    def example(reset):
        def run(net):
            reset(net)
            return net(X)
        return run

    ours = mo.optimize_memory(snn(sjn, sjs), (nn.Conv2d, nn.Linear), example(reset_net), level=1)
    theirs = SJ.optimize_memory(snn(SJA.neuron, SJA.surrogate), (nn.Conv2d, nn.Linear),
                                example(SJA.functional.reset_net), level=1)

    def choices(net):
        return {path: type(m.checkpoint_fn.keywords["compressor"]).__name__ for path, m in net.named_modules()
                if hasattr(m, "checkpoint_fn")}

    assert choices(ours) == choices(theirs) == {"0": "NoneType", "3": "BitSpikeCompressor",
                                                "6": "BitSpikeCompressor"}
    plain_net = snn(sjn, sjs)
    results = []
    for net in (plain_net, ours):
        reset_net(net)
        with PeakMemory() as mem:
            results.append(train_step(net, reset_net))
        results[-1] += (mem.peak,)
    assert_same(results[1], train_step(theirs, SJA.functional.reset_net))
    assert_same(results[1], results[0])
    assert results[1][3] < results[0][3]
