"""Shared by the layer/rnn/quantize/encoding parity tests: run an sj module and its SpikingJelly 2.0 twin on the same
weights and inputs, and compare outputs, input gradients and parameter gradients."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from oracle import spikingjelly

__all__ = ["assert_close_max", "forward_backward", "load_sj2_state", "run_parity", "sj2"]

ATOL = 1e-5


def sj2(module: str):
    """``spikingjelly.activation_based.<module>`` (or ``spikingjelly.<module>`` for a top-level one), or skip."""
    return spikingjelly(module if module.startswith(("visualizing", "datasets")) else f"activation_based.{module}")


def assert_close_max(a, b, atol: float = ATOL, what: str = "") -> None:
    """``max |a − b| ≤ atol`` for tensors (or nested lists/tuples of them), shapes equal."""
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{what}: {type(a)} vs {type(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close_max(x, y, atol, f"{what}[{i}]")
        return
    if a is None or b is None:
        assert a is None and b is None, f"{what}: one is None"
        return
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    if a.numel():
        diff = (a.detach().double() - b.detach().double()).abs().max().item()
        assert diff <= atol, f"{what}: max |diff| = {diff:g} > {atol:g}"


def _leaves(y) -> list[torch.Tensor]:
    if isinstance(y, torch.Tensor):
        return [y]
    return [t for item in y for t in _leaves(item)]


def forward_backward(module: nn.Module | Callable, inputs: Sequence, seed: int | None = None, grad: bool = True):
    """``(outputs, input grads, {param name: grad})`` of ``module(*inputs)`` with a fixed random cotangent."""
    xs = [x.detach().clone().requires_grad_(grad and x.is_floating_point()) if isinstance(x, torch.Tensor) else x
          for x in inputs]
    if seed is not None:
        torch.manual_seed(seed)
    y = module(*xs)
    outs = _leaves(y)
    params = dict(module.named_parameters()) if isinstance(module, nn.Module) else {}
    if not grad:
        return outs, None, None
    gen = torch.Generator().manual_seed(1234)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs if o.requires_grad)
    wrt = [x for x in xs if isinstance(x, torch.Tensor) and x.requires_grad] + list(params.values())
    grads = torch.autograd.grad(loss, wrt, allow_unused=True) if isinstance(loss, torch.Tensor) else [None] * len(wrt)
    n = len(wrt) - len(params)
    return outs, list(grads[:n]), dict(zip(params, grads[n:], strict=True))


def load_sj2_state(ours: nn.Module, theirs: nn.Module) -> None:
    """Load SJ's state_dict into ``ours``: every SJ key must be there; the only keys sj may have besides are those of
    sj's neurons (their hyper-parameter buffers and extra state, which SJ's neurons do not save)."""
    from sj.neuron import BaseNode

    result = ours.load_state_dict(theirs.state_dict(), strict=False)
    neuron_prefixes = tuple(f"{name}." for name, m in ours.named_modules() if isinstance(m, BaseNode))
    assert not result.unexpected_keys, f"keys of SJ that sj lacks: {result.unexpected_keys}"
    assert all(k.startswith(neuron_prefixes) for k in result.missing_keys), \
        f"keys of sj that SJ lacks: {result.missing_keys}"


def run_parity(ours: nn.Module | Callable, theirs: nn.Module | Callable, inputs: Sequence, seed: int | None = None,
               atol: float = ATOL, grad: bool = True, load: bool = True) -> list[torch.Tensor]:
    """Load ``theirs``' state_dict into ``ours`` (the key layout must be SpikingJelly's, see :func:`load_sj2_state`),
    run both, compare. Returns sj's outputs."""
    if load and isinstance(ours, nn.Module):
        load_sj2_state(ours, theirs)
    a = forward_backward(ours, inputs, seed, grad)
    b = forward_backward(theirs, inputs, seed, grad)
    assert_close_max(a[0], b[0], atol, "output")
    if grad:
        assert_close_max(a[1], b[1], atol, "input grad")
        assert a[2].keys() == b[2].keys(), f"parameters {sorted(a[2])} vs {sorted(b[2])}"
        for name in a[2]:
            assert_close_max(a[2][name], b[2][name], atol, f"grad of {name}")
    return a[0]
