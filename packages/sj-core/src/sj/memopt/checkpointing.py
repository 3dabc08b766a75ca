"""Activation checkpointing of functions and stateful modules, optionally chunked in time and with the saved input
compressed (SpikingJelly 2.0's ``memopt.checkpoint`` and ``checkpoint_module``).

A checkpointed call keeps only its inputs; backward runs it again to get the activations. For a stateful module
(neurons, delays, dropout masks...) the recomputation must start from the state the original call started from: the
call here is *pure* — it runs from memories and buffers passed in explicitly and puts the module's own back — and the
state it ends in (and BatchNorm's updated running statistics) is committed to the module once, after the forward.
The same mechanism runs :class:`sj.training.TimeCheckpoint`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.utils._pytree import tree_flatten, tree_unflatten
from torch.utils.checkpoint import checkpoint as torch_checkpoint

from sj.base import MemoryModule

if TYPE_CHECKING:
    from sj.memopt.compress import SpikeCompressor

__all__ = ["checkpoint", "checkpoint_module", "run_chunks"]

Slot = tuple[MemoryModule, str]


class _GradientHandle(torch.autograd.Function):
    """A stand-in for a tensor whose values are kept elsewhere (compressed): zeros of its shape in one element of
    memory, through which the tensor's gradient flows."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.new_zeros(()).expand_as(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def checkpoint(function: Callable, *args: Any, compressor: SpikeCompressor | None = None, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` under ``torch.utils.checkpoint`` (non-reentrant): its activations are not kept
    but recomputed in backward.

    Args:
        function: what to run; it must compute the same thing when run again (a stateful module: use
            :func:`checkpoint_module`).
        args: its positional arguments; gradients flow to every tensor among them.
        compressor: store the first positional tensor argument compressed (e.g. :class:`BitSpikeCompressor` for
            spikes: 1 bit per element) instead of keeping it for the recomputation; it must hold values the compressor
            restores exactly (``ValueError`` otherwise).
        kwargs: keyword arguments of ``function``, and ``torch.utils.checkpoint``'s own options
            (``preserve_rng_state``, ``context_fn``, ...).
    """
    index = next((i for i, a in enumerate(args) if isinstance(a, torch.Tensor)), None)
    if compressor is None or index is None:
        return torch_checkpoint(function, *args, use_reentrant=False, **kwargs)
    with torch.no_grad():
        packed = compressor.compress(args[index])
    handle = _GradientHandle.apply(args[index])
    rest = args[:index] + args[index + 1:]

    def restored_call(packed_input: Any, handle: torch.Tensor, *inner: Any, **inner_kwargs: Any) -> Any:
        value = compressor.decompress(packed_input) + handle  # the input's values; its gradient flows to the handle
        return function(*inner[:index], value, *inner[index:], **inner_kwargs)

    return torch_checkpoint(restored_call, packed, handle, *rest, use_reentrant=False, **kwargs)


def _slots(module: nn.Module) -> list[Slot]:
    return [(m, name) for m in module.modules() if isinstance(m, MemoryModule) for name, _ in m.named_memories()]


def _pure_call(module: nn.Module, slots: list[Slot], values: list[Any], buffer_names: tuple[str, ...],
               n_args: int, n_states: int, flat: tuple, kwargs: dict) -> tuple[Any, list[Any], tuple]:
    """Run ``module`` on ``flat[:n_args]`` from the given memories (tensors ``flat[n_args:n_args + n_states]``, the
    rest of ``values`` as given) and buffers (copies of the remaining ``flat``); return its output, the memories it ends
    with and its buffers after the call. The module's own memories are put back (the call leaves no trace)."""
    args, tensors, buffers = flat[:n_args], iter(flat[n_args:n_args + n_states]), flat[n_args + n_states:]
    start = [next(tensors) if isinstance(v, torch.Tensor) else v for v in values]
    before = [getattr(m, name) for m, name in slots]
    working = {name: b.clone() for name, b in zip(buffer_names, buffers)}
    try:
        for (m, name), v in zip(slots, start):
            setattr(m, name, v)
        out = torch.func.functional_call(module, working, args, kwargs) if working else module(*args, **kwargs)
        return out, [getattr(m, name) for m, name in slots], tuple(working.values())
    finally:
        for (m, name), v in zip(slots, before):
            setattr(m, name, v)


def _merge(outputs: list[Any], time_dim: int) -> Any:
    """Chunk outputs joined: tensors concatenated along ``time_dim``, other leaves equal in every chunk."""
    if len(outputs) == 1:
        return outputs[0]
    flats, specs = zip(*(tree_flatten(o) for o in outputs))
    if any(s != specs[0] for s in specs[1:]):
        raise ValueError("All temporal chunks must return the same pytree structure.")
    merged = []
    for leaves in zip(*flats):
        if isinstance(leaves[0], torch.Tensor):
            if not all(isinstance(leaf, torch.Tensor) for leaf in leaves):
                raise ValueError("Output leaf types differ between temporal chunks.")
            merged.append(torch.cat(leaves, dim=time_dim))
        elif any(leaf != leaves[0] for leaf in leaves[1:]):
            raise ValueError("Non-tensor output leaves must be chunk-invariant.")
        else:
            merged.append(leaves[0])
    return tree_unflatten(merged, specs[0])


def run_chunks(module: nn.Module, args: tuple, kwargs: dict, chunks: dict[int, Sequence[torch.Tensor]] | None = None,
               time_dim: int = 0, compressor: SpikeCompressor | None = None) -> Any:
    """Run ``module(*args, **kwargs)`` checkpointed, chunk after chunk (``chunks``: for some positional indices, the
    pieces of that argument, all of equal count; ``None``: one call), the memories and buffers each chunk ends with
    passed to the next; commit the final memories and buffers to the module and return the outputs joined along
    ``time_dim`` (see :func:`_merge`)."""
    slots = _slots(module)
    values = [getattr(m, name) for m, name in slots]
    live = dict(module.named_buffers())
    names, refs = tuple(live), tuple(live.values())
    buffers = tuple(b.detach().clone() for b in refs)
    count = len(next(iter(chunks.values()))) if chunks else 1
    outputs = []
    for k in range(count):
        call_args = tuple(chunks[i][k] if chunks and i in chunks else a for i, a in enumerate(args))
        states = [v for v in values if isinstance(v, torch.Tensor)]

        def call(*flat: Any, values: list[Any] = values, n_args: int = len(call_args), n_states: int = len(states),
                 **kw: Any) -> Any:
            return _pure_call(module, slots, values, names, n_args, n_states, flat, kw)

        out, values, buffers = checkpoint(call, *call_args, *states, *buffers, compressor=compressor, **kwargs)
        outputs.append(out)
    for (m, name), v in zip(slots, values):
        setattr(m, name, v)
    with torch.no_grad():
        for ref, new in zip(refs, buffers):
            ref.copy_(new)
    return _merge(outputs, time_dim)


def _checkpoint_module_forward(module: nn.Module, *args: Any, compressor: SpikeCompressor | None, chunks: int,
                               chunked_args: tuple[int, ...], time_dim: int, **kwargs: Any) -> Any:
    if chunks == 1:
        return run_chunks(module, args, kwargs, None, time_dim, compressor)
    pieces: dict[int, Sequence[torch.Tensor]] = {}
    length = None
    for index in chunked_args:
        if index >= len(args) or not isinstance(args[index], torch.Tensor):
            raise ValueError(f"chunked_args contains non-tensor argument index {index}.")
        if length is not None and args[index].shape[time_dim] != length:
            raise ValueError("All chunked arguments must have the same temporal length.")
        length = args[index].shape[time_dim]
        pieces[index] = torch.tensor_split(args[index], chunks, dim=time_dim)
    if length is None:
        raise ValueError("chunked_args must contain at least one tensor argument.")
    if length == 0 or chunks > length:
        raise ValueError(f"chunks={chunks} requires a non-empty temporal length T >= chunks; got T={length}.")
    return run_chunks(module, args, kwargs, pieces, time_dim, compressor)


def checkpoint_module(module: nn.Module, *, compressor: SpikeCompressor | None = None, chunks: int = 1,
                      chunked_args: tuple[int, ...] = (0,), time_dim: int = 0) -> nn.Module:
    """Wrap ``module`` so that every call is checkpointed (see the module docstring): outputs, final state and
    gradients are those of the plain module; activation memory is what the recomputation needs.

    The wrapper (torch's ``CheckpointWrapper``) keeps the parameter objects, names and ``state_dict`` keys of
    ``module``. Memories (neuron states) and buffers (BatchNorm statistics) are updated once per call.

    Args:
        module: the module to wrap.
        compressor: store the first positional tensor input compressed (see :func:`checkpoint`).
        chunks: with ``chunks > 1``, the ``chunked_args`` tensors are split along ``time_dim`` into ``chunks`` pieces
            (``torch.tensor_split``; ``chunks`` ≤ their length), each piece checkpointed separately with the state the
            previous one left, and tensor outputs concatenated along ``time_dim`` (other outputs must be equal in
            every chunk). The module must compute along ``time_dim`` step by step (a BatchNorm in training mode would
            normalise each chunk on its own).
        chunked_args: indices of the positional tensor arguments to split. Default ``(0,)``.
        time_dim: the time dimension. Default 0 (``[T, N, ...]``).
    """
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1:
        raise ValueError(f"chunks must be positive, got {chunks}.")
    if not isinstance(module, nn.Module):
        raise TypeError(f"checkpoint_module: module must be an nn.Module, got {type(module).__name__}")
    return checkpoint_wrapper(module, checkpoint_fn=_checkpoint_module_forward, compressor=compressor, chunks=chunks,
                              chunked_args=tuple(chunked_args), time_dim=time_dim)
