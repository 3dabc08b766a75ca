"""sj.memopt: compressors restore exactly, checkpointing keeps outputs, state and gradients of the plain run with less
memory, and optimize_memory's levels lower the measured peak without changing the gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sj import layer, neuron, surrogate
from sj.functional import reset_net
from sj.memopt import (
    BitSpikeCompressor,
    BooleanSpikeCompressor,
    SparseSpikeCompressor,
    Uint8SpikeCompressor,
    checkpoint,
    checkpoint_module,
    optimize_memory,
)
from sj.training import PeakMemory

COMPRESSORS = [BitSpikeCompressor(), BooleanSpikeCompressor(), Uint8SpikeCompressor(), SparseSpikeCompressor(),
               SparseSpikeCompressor(torch.int32)]


@pytest.mark.parametrize("compressor", COMPRESSORS, ids=lambda c: f"{type(c).__name__}")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bool])
def test_compressors_restore_exactly(compressor, dtype):
    x = (torch.rand(3, 5, 7) < 0.3).to(dtype)  # 105 elements: not a multiple of 8
    packed = compressor.compress(x)
    y = compressor.decompress(packed)
    assert y.dtype == x.dtype and y.shape == x.shape and torch.equal(y, x)


def test_compressed_sizes_and_refusals():
    x = (torch.rand(64, 64) < 0.1).float()
    assert BitSpikeCompressor().compress(x)[0].numel() == 64 * 64 // 8
    assert BitSpikeCompressor().compress(x)[0].dtype == torch.uint8
    counts = torch.tensor([0.0, 3.0, 255.0])
    assert torch.equal(Uint8SpikeCompressor().decompress(Uint8SpikeCompressor().compress(counts)), counts)
    for compressor in (BitSpikeCompressor(), BooleanSpikeCompressor(), SparseSpikeCompressor()):
        with pytest.raises(ValueError, match=r"spikes \(every element 0 or 1\)"):
            compressor.compress(torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match=r"integers in \[0, 255\]"):
        Uint8SpikeCompressor().compress(torch.tensor([256.0]))
    with pytest.raises(TypeError, match="integer dtype"):
        SparseSpikeCompressor(torch.float32)
    with pytest.raises(TypeError, match="expected a tensor"):
        BitSpikeCompressor().compress([0, 1])


def test_checkpoint_with_compression_keeps_outputs_and_gradients_and_saves_the_spikes_as_bits():
    torch.manual_seed(0)
    lin = nn.Linear(256, 64)
    a = torch.randn(32, 256, requires_grad=True)

    def run(compressor):
        a.grad, lin.weight.grad = None, None
        with PeakMemory() as mem:
            s = surrogate.ATan()(a)  # spikes made inside: only what the checkpoint keeps stays alive
            y = checkpoint(lin, s, compressor=compressor) if compressor is not False else lin(s)
            del s
            torch.zeros(())  # PeakMemory frees storages at operator boundaries
            kept = mem.current
            y.square().sum().backward()
        return y.detach(), a.grad.clone(), lin.weight.grad.clone(), kept

    plain, stored, bits = run(False), run(None), run(BitSpikeCompressor())
    for got in (stored, bits):
        assert torch.equal(got[0], plain[0])
        torch.testing.assert_close(got[1], plain[1], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(got[2], plain[2], rtol=1e-6, atol=1e-7)
    spike_bytes = 32 * 256 * 4
    assert stored[3] - bits[3] >= spike_bytes - spike_bytes // 32 - 64  # the float spikes are not kept, the bits are


def snn(bn: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    mods = [layer.Conv2d(1, 4, 3, padding=1, step_mode="m")]
    if bn:
        mods.append(layer.BatchNorm2d(4, step_mode="m"))
    mods += [neuron.LIFNode(v_threshold=0.5, surrogate_function=surrogate.ATan(), step_mode="m"),
             layer.Conv2d(4, 4, 3, padding=1, step_mode="m"), neuron.IzhikevichNode(step_mode="m"),
             layer.Flatten(step_mode="m"), layer.Linear(4 * 6 * 6, 3, step_mode="m")]
    net = nn.Sequential(*mods)
    with torch.no_grad():
        net[0].weight.mul_(3)
    return net.double()


def step(net, x):
    reset_net(net)
    for p in net.parameters():
        p.grad = None
    out = net(x)
    out.square().sum().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()]


@pytest.mark.parametrize(("chunks", "bn"), [(1, True), (3, False)])
def test_checkpoint_module_matches_the_plain_module(chunks, bn):
    x = torch.rand(7, 2, 1, 6, 6, dtype=torch.float64) * 2
    plain, inner = snn(bn), snn(bn)
    out_p, grads_p = step(plain, x)
    wrapped = checkpoint_module(inner, chunks=chunks)
    out_w, grads_w = step(wrapped, x)
    assert out_p.abs().sum() > 0 and torch.equal(out_w, out_p)
    for gw, gp in zip(grads_w, grads_p, strict=True):
        torch.testing.assert_close(gw, gp, rtol=1e-10, atol=1e-12)
    for a, b in zip(plain.modules(), inner.modules(), strict=True):  # memories and BN statistics updated once
        for name, value in getattr(a, "named_memories", lambda: [])():
            other = getattr(b, name)
            assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
    for (name, ba), bb in zip(plain.named_buffers(), inner.buffers(), strict=True):
        assert torch.equal(ba, bb), name
    assert list(wrapped.state_dict()) == list(plain.state_dict())
    assert next(wrapped.parameters()) is next(inner.parameters())


def test_checkpoint_module_refusals():
    net = snn()
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="chunks must be positive"):
            checkpoint_module(net, chunks=bad)
    x = torch.rand(2, 1, 1, 6, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"T >= chunks; got T=2"):
        checkpoint_module(net, chunks=3)(x)
    with pytest.raises(ValueError, match="non-tensor argument index 1"):
        checkpoint_module(net, chunks=2, chunked_args=(1,))(x)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        checkpoint_module(lambda t: t)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = layer.Conv2d(cin, cout, 3, padding=1, step_mode="m")
        self.sn = neuron.LIFNode(v_threshold=0.5, surrogate_function=surrogate.ATan(), step_mode="m")

    def forward(self, x):
        return self.sn(self.conv(x))


def block_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(Block(1, 8), Block(8, 8), Block(8, 8), layer.Flatten(step_mode="m"),
                        layer.Linear(8 * 6 * 6, 3, step_mode="m"))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(3)
    return net


X = torch.rand(4, 2, 1, 6, 6, generator=torch.Generator().manual_seed(2)) * 2


def measured(net):
    reset_net(net)
    for p in net.parameters():
        p.grad = None
    with PeakMemory() as mem:
        out = net(X)
        out.square().sum().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()], mem.peak


def example(net):
    reset_net(net)
    return net(X)


@pytest.mark.parametrize(("level", "options"), [
    (1, {}), (2, {"split_fn": lambda m: [m.conv, m.sn]}), (4, {"can_chunk": lambda m: True})])
def test_optimize_memory_lowers_the_peak_and_keeps_the_gradients(level, options):
    out_p, grads_p, peak_p = measured(block_net())
    net = optimize_memory(block_net(), Block, example, level=level, **options)
    wrapped = {path: type(m.checkpoint_fn.keywords["compressor"]).__name__ for path, m in net.named_modules()
               if hasattr(m, "checkpoint_fn")}
    out, grads, peak = measured(net)
    assert torch.equal(out, out_p)
    for g, gp in zip(grads, grads_p, strict=True):
        torch.testing.assert_close(g, gp, rtol=1e-5, atol=1e-7)
    assert peak < 0.9 * peak_p, (peak, peak_p)
    if level == 1:  # every block; the inputs of blocks 1 and 2 are spikes: stored as bits
        assert wrapped == {"0": "NoneType", "1": "BitSpikeCompressor", "2": "BitSpikeCompressor"}
    assert list(net.state_dict()) == list(block_net().state_dict())


def test_optimize_memory_budget_and_refusals():
    net = optimize_memory(block_net(), Block, example, level=1, checkpoint_budget="speed", compress=False)
    assert [p for p, m in net.named_modules() if hasattr(m, "checkpoint_fn")] == ["1", "2"]  # ⌈3/2⌉, largest inputs
    assert optimize_memory(block_net(), Block, level=0) is not None
    with pytest.raises(ValueError, match="level must be one of"):
        optimize_memory(block_net(), Block, example, level=5)
    with pytest.raises(ValueError, match="example_forward is required"):
        optimize_memory(block_net(), Block, level=1)
    with pytest.raises(ValueError, match="checkpoint_budget must be one of"):
        optimize_memory(block_net(), Block, example, level=1, checkpoint_budget="fast")
    with pytest.raises(ValueError, match="cannot replace the root"):
        optimize_memory(Block(1, 1), Block, example, level=1)
    with pytest.raises(RuntimeError, match="process_group requires initialized"):
        optimize_memory(block_net(), Block, example, level=1, process_group=object())
    with pytest.raises(ValueError, match="differentiable tensor"):
        optimize_memory(block_net(), Block, lambda net: 0, level=4)
