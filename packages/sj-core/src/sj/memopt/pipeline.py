"""``optimize_memory``: SpikingJelly 2.0's progressive memory optimisation (after "Towards Lossless Memory-efficient
Training of Spiking Neural Networks via Gradient Checkpointing and Spike Compression", ICLR 2026).

1. selective checkpointing: wrap the largest-input modules of the ``targets`` types with :func:`checkpoint_module`,
   compressing inputs found binary (spikes) with :class:`BitSpikeCompressor`;
2. spatial splitting: replace a checkpointed module by checkpointed parts of it (``split_fn``) while the peak drops;
3. temporal splitting: double a checkpointed module's time chunks (``can_chunk``) while the peak drops;
4. greedy unwrapping: remove checkpoints, costliest forward first, while the peak does not rise.

Levels 2-4 measure the peak memory of a forward and backward of ``example_forward``: ``torch.cuda`` statistics for a
model on a GPU, :class:`sj.training.PeakMemory` (tensor storages) elsewhere — SpikingJelly 2.0 requires CUDA.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
from torch.utils._pytree import tree_flatten

from sj.base import MemoryModule
from sj.memopt.checkpointing import checkpoint_module
from sj.memopt.compress import BitSpikeCompressor
from sj.training.memory import PeakMemory

__all__ = ["optimize_memory"]

BUDGET_RATIOS = {"speed": 0.5, "balanced": 0.75, "memory": 1.0}
Example = Callable[[nn.Module], Any]


# ---------------------------------------------------------------------------------------------- run state and trials
def _clone(value: Any) -> Any:
    return value.detach().clone() if isinstance(value, torch.Tensor) else copy.deepcopy(value)


def _memories(model: nn.Module) -> list[tuple[MemoryModule, str]]:
    return [(m, name) for m in model.modules() if isinstance(m, MemoryModule) for name, _ in m.named_memories()]


def _capture(model: nn.Module) -> dict[str, Any]:
    """What a trial run changes: random state, buffers, memories, gradients."""
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    return {"cpu_rng": torch.get_rng_state(), "cuda_rng": torch.cuda.get_rng_state() if cuda else None,
            "buffers": [(b, b.detach().clone()) for b in model.buffers()],
            "memories": [(m, name, _clone(getattr(m, name))) for m, name in _memories(model)],
            "grads": [(p, None if p.grad is None else p.grad.detach().clone()) for p in model.parameters()]}


def _restore(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu_rng"])
    if state["cuda_rng"] is not None:
        torch.cuda.set_rng_state(state["cuda_rng"])
    with torch.no_grad():
        for buffer, saved in state["buffers"]:
            buffer.copy_(saved)
    for m, name, value in state["memories"]:
        setattr(m, name, _clone(value))
    for p, grad in state["grads"]:
        p.grad = None if grad is None else grad.clone()


def _backward(outputs: Any) -> None:
    leaves = [t for t in tree_flatten(outputs)[0]
              if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad]
    if not leaves:
        raise ValueError("example_forward must return a differentiable tensor leaf.")
    torch.stack([t.float().sum() for t in leaves]).sum().backward()


def _model_device(model: nn.Module) -> torch.device:
    tensor = next(iter(model.parameters()), None)
    if tensor is None:
        tensor = next(iter(model.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def _measure_peak(model: nn.Module, example_forward: Example) -> float:
    """Peak memory (bytes) of a forward and backward of ``example_forward``; the model's run state is restored
    afterwards. On a GPU after one warm-up run (the caching allocator's state), elsewhere with
    :class:`~sj.training.PeakMemory`, which counts tensor storages and needs none."""
    state = _capture(model)
    device = _model_device(model)
    try:
        for p in model.parameters():
            p.grad = None
        if device.type == "cuda":
            _backward(example_forward(model))
            _restore(state)
            for p in model.parameters():
                p.grad = None
            torch.cuda.synchronize(device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            _backward(example_forward(model))
            torch.cuda.synchronize(device)
            return float(torch.cuda.max_memory_allocated(device))
        with PeakMemory() as mem:
            _backward(example_forward(model))
        return float(mem.peak)
    finally:
        _restore(state)


def _group_device(group: Any) -> torch.device:
    if group is not None and dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _group_reduce(values: list[float], op: Any, group: Any) -> list[float]:
    """``values`` reduced over the ranks of ``group`` (unchanged without one)."""
    if group is None or not values:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=_group_device(group))
    dist.all_reduce(tensor, op=op, group=group)
    return tensor.cpu().tolist()


def _trial(model: nn.Module, example_forward: Example, group: Any) -> float | None:
    """The peak of one trial, the largest over the group's ranks; ``None`` if a rank ran out of GPU memory."""
    status, error, peak = 0, None, 0.0
    try:
        peak = _measure_peak(model, example_forward)
    except torch.cuda.OutOfMemoryError:
        status = 1
        torch.cuda.empty_cache()
    except Exception as exc:
        status, error = 2, exc
    # one collective: the worst status and the largest peak over the ranks
    status, peak = _group_reduce([float(status), peak], dist.ReduceOp.MAX if group is not None else None, group)
    if status == 2:
        if error is not None:
            raise error
        raise RuntimeError("A process-group rank failed while profiling memopt.")
    return None if status == 1 else peak


# ------------------------------------------------------------------------------------------- level 1: checkpointing
def _probe(model: nn.Module, example_forward: Example, group: Any
           ) -> tuple[dict[nn.Module, int], dict[nn.Module, bool], dict[nn.Module, int]]:
    """Per module, over one run: the largest first tensor input (bytes), whether every input was binary, and the
    length of its first dimension (time, for a multi-step module)."""
    modules = list(model.modules())
    sizes = dict.fromkeys(modules, 0)
    binary = dict.fromkeys(modules, True)
    lengths: dict[nn.Module, int] = {}
    seen: set[nn.Module] = set()

    def hook(module: nn.Module, args: tuple) -> None:
        x = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if x is None:
            return
        seen.add(module)
        sizes[module] = max(sizes[module], x.numel() * x.element_size())
        binary[module] = binary[module] and bool(((x == 0) | (x == 1)).all())
        if x.ndim:
            lengths[module] = int(x.shape[0])

    handles = [m.register_forward_pre_hook(hook) for m in modules]
    state = _capture(model)
    try:
        example_forward(model)
    finally:
        for handle in handles:
            handle.remove()
        _restore(state)
    max_op, min_op = (dist.ReduceOp.MAX, dist.ReduceOp.MIN) if group is not None else (None, None)
    size_values = _group_reduce([float(sizes[m]) for m in modules], max_op, group)
    binary_values = _group_reduce([1.0 if m in seen and binary[m] else 0.0 for m in modules], min_op, group)
    length_values = _group_reduce([float(lengths.get(m, 0)) for m in modules], min_op, group)
    sizes = {m: int(v) for m, v in zip(modules, size_values)}
    binary = {m: bool(v) for m, v in zip(modules, binary_values)}
    lengths = {m: int(v) for m, v in zip(modules, length_values) if v}
    return sizes, binary, lengths


def _paths(model: nn.Module) -> dict[nn.Module, str]:
    return {m: path for path, m in model.named_modules() if path}


def _select(model: nn.Module, targets: type | tuple[type, ...], sizes: dict[nn.Module, int], budget: str
            ) -> list[str]:
    """The outermost ``targets`` modules, largest input first, the budget's share of them."""
    candidates: list[tuple[str, nn.Module]] = []
    for path, module in model.named_modules():
        if path and isinstance(module, targets) and not any(path.startswith(f"{p}.") for p, _ in candidates):
            candidates.append((path, module))
    count = math.ceil(len(candidates) * BUDGET_RATIOS[budget])
    ranked = sorted(enumerate(candidates), key=lambda item: (-sizes[item[1][1]], item[0]))
    return [path for _, (path, _) in ranked[:count]]


def _compressor(module: nn.Module, binary: dict[nn.Module, bool], compress: bool) -> BitSpikeCompressor | None:
    return BitSpikeCompressor() if compress and binary.get(module, False) else None


def _wrapped(model: nn.Module) -> list[tuple[str, CheckpointWrapper]]:
    return [(path, m) for path, m in model.named_modules() if path and isinstance(m, CheckpointWrapper)]


def _inner(wrapper: CheckpointWrapper) -> nn.Module:
    return wrapper._checkpoint_wrapped_module


def _options(wrapper: CheckpointWrapper) -> dict[str, Any]:
    return wrapper.checkpoint_fn.keywords


# ----------------------------------------------------------------------------------------- level 2: spatial splits
def _split_parts(module: nn.Module, split_fn: Callable[[nn.Module], Sequence[nn.Module]]
                 ) -> list[tuple[str, nn.Module]]:
    parts = list(split_fn(module))
    if len(parts) < 2:
        return []
    paths = _paths(module)
    if any(p not in paths for p in parts):
        raise ValueError("split_fn must return registered descendants of its input.")
    names = [paths[p] for p in parts]
    for i, a in enumerate(names):
        if any(b.startswith(f"{a}.") or a.startswith(f"{b}.") for b in names[i + 1:]):
            raise ValueError("split_fn descendants must not overlap.")
    return list(zip(names, parts))


def _spatial(model: nn.Module, example_forward: Example, split_fn: Callable, sizes: dict[nn.Module, int],
             binary: dict[nn.Module, bool], compress: bool, group: Any) -> float:
    peak = _trial(model, example_forward, group)
    best = math.inf if peak is None else peak
    blocked: set[str] = set()
    while True:
        candidates = []
        for path, wrapper in _wrapped(model):
            parts = [] if path in blocked else _split_parts(_inner(wrapper), split_fn)
            if parts:
                candidates.append((sizes.get(_inner(wrapper), 0), path, wrapper, parts))
        accepted = False
        for _, path, wrapper, parts in sorted(candidates, key=lambda c: (-c[0], c[1])):
            inner = _inner(wrapper)

            def undo(path: str = path, wrapper: CheckpointWrapper = wrapper, inner: nn.Module = inner,
                     parts: list = parts) -> None:
                for relative, part in parts:
                    inner.set_submodule(relative, part)
                model.set_submodule(path, wrapper)

            model.set_submodule(path, inner)
            for relative, part in parts:
                inner.set_submodule(relative, checkpoint_module(part, compressor=_compressor(part, binary, compress)))
            try:
                peak = _trial(model, example_forward, group)
            except Exception:
                undo()
                raise
            if peak is not None and peak < best:
                best, accepted = peak, True
                blocked.clear()
                break
            undo()
            blocked.add(path)
        if not accepted:
            return best


# ---------------------------------------------------------------------------------------- level 3: temporal splits
def _temporal(model: nn.Module, example_forward: Example, can_chunk: Callable[[nn.Module], bool],
              sizes: dict[nn.Module, int], lengths: dict[nn.Module, int], baseline: float, group: Any) -> float:
    eligible = {path for path, wrapper in _wrapped(model) if can_chunk(_inner(wrapper))}
    blocked: set[str] = set()
    while True:
        candidates = []
        for path, wrapper in _wrapped(model):
            chunks = 2 * int(_options(wrapper)["chunks"])
            if path in eligible and path not in blocked and chunks <= lengths.get(_inner(wrapper), 0):
                candidates.append((sizes.get(_inner(wrapper), 0), path, wrapper, chunks))
        accepted = False
        for _, path, wrapper, chunks in sorted(candidates, key=lambda c: (-c[0], c[1])):
            options = _options(wrapper)
            model.set_submodule(path, checkpoint_module(_inner(wrapper), compressor=options["compressor"],
                                                        chunks=chunks, chunked_args=options["chunked_args"],
                                                        time_dim=options["time_dim"]))
            try:
                peak = _trial(model, example_forward, group)
            except Exception:
                model.set_submodule(path, wrapper)
                raise
            if peak is not None and peak < baseline:
                baseline, accepted = peak, True
                blocked.clear()
                break
            model.set_submodule(path, wrapper)
            blocked.add(path)
        if not accepted:
            return baseline


# ---------------------------------------------------------------------------------------- level 4: greedy unwrap
def _forward_costs(model: nn.Module, example_forward: Example, group: Any) -> dict[str, float]:
    """Forward time (ms, summed over the timed runs: 10 after 5 warm-ups on a GPU, 3 after 1 on a CPU, which has no
    asynchronous queue to fill) of each checkpointed module."""
    wrapped = _wrapped(model)
    cuda = _model_device(model).type == "cuda"
    warmup, repeats = (5, 10) if cuda else (1, 3)
    spans: dict[str, list[tuple[Any, Any]]] = {path: [] for path, _ in wrapped}
    starts: dict[str, Any] = {}

    def stamp() -> Any:
        if cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def pre(path: str) -> Callable:
        return lambda module, args: starts.__setitem__(path, stamp())

    def post(path: str) -> Callable:
        return lambda module, args, output: spans[path].append((starts[path], stamp()))

    handles = []
    state = _capture(model)
    try:
        for _ in range(warmup):
            example_forward(model)
            _restore(state)
        for path, wrapper in wrapped:
            handles += [_inner(wrapper).register_forward_pre_hook(pre(path)),
                        _inner(wrapper).register_forward_hook(post(path))]
        for _ in range(repeats):
            example_forward(model)
            _restore(state)
        if cuda:
            torch.cuda.synchronize()
        costs = {path: sum(a.elapsed_time(b) if cuda else (b - a) * 1e3 for a, b in pairs)
                 for path, pairs in spans.items()}
    finally:
        for handle in handles:
            handle.remove()
        _restore(state)
    values = _group_reduce(list(costs.values()), dist.ReduceOp.MAX if group is not None else None, group)
    return dict(zip(costs, values))


def _unwrap(model: nn.Module, example_forward: Example, baseline: float, group: Any) -> None:
    costs = _forward_costs(model, example_forward, group)
    for path in sorted(costs, key=lambda p: (-costs[p], p)):
        wrapper = model.get_submodule(path)
        model.set_submodule(path, _inner(wrapper))
        try:
            peak = _trial(model, example_forward, group)
        except Exception:
            model.set_submodule(path, wrapper)
            raise
        if peak is None or peak > baseline:
            model.set_submodule(path, wrapper)
        else:
            baseline = peak


def optimize_memory(model: nn.Module, targets: type | tuple[type, ...], example_forward: Example | None = None, *,
                    level: Literal[0, 1, 2, 3, 4], checkpoint_budget: Literal["speed", "balanced", "memory"] = "memory",
                    compress: bool = True, split_fn: Callable[[nn.Module], Sequence[nn.Module]] | None = None,
                    can_chunk: Callable[[nn.Module], bool] | None = None, process_group: Any = None) -> nn.Module:
    """Reduce the training memory of ``model`` in place, up to ``level`` (see the module docstring); outputs and
    gradients stay those of the plain model.

    Args:
        model: the model (changed in place: submodules are replaced by checkpoint wrappers; ``state_dict`` keys and
            parameter objects stay the same).
        targets: module type(s) level 1 may checkpoint (e.g. the blocks of a network); the root cannot be one.
        example_forward: ``example_forward(model)`` runs a representative forward and returns its output (levels 2-4
            also run backward on it); required for ``level > 0``. The model's state, buffers, gradients and random
            state are restored after each trial.
        level: 0 (nothing) to 4.
        checkpoint_budget: share of the candidate modules checkpointed at level 1: ``"speed"`` ½, ``"balanced"`` ¾,
            ``"memory"`` all (largest inputs first).
        compress: compress the inputs found binary (spikes) with :class:`BitSpikeCompressor`.
        split_fn: level 2: ``split_fn(module)`` returns ordered, non-overlapping descendants to checkpoint separately.
        can_chunk: level 3 (and 4): whether a checkpointed module may run its input in chunks along dimension 0.
        process_group: a ``torch.distributed`` group whose ranks run the same model and take the same decisions
            (peaks reduced with max); ``None``: local.

    Returns:
        ``model``.
    """
    if level not in (0, 1, 2, 3, 4) or isinstance(level, bool):
        raise ValueError(f"level must be one of 0, 1, 2, 3, 4; got {level}.")
    if level == 0:
        return model
    if example_forward is None:
        raise ValueError("example_forward is required when level > 0.")
    if checkpoint_budget not in BUDGET_RATIOS:
        raise ValueError(f"checkpoint_budget must be one of {tuple(BUDGET_RATIOS)}, got {checkpoint_budget!r}.")
    if isinstance(model, targets):
        raise ValueError("optimize_memory cannot replace the root model in place.")
    if process_group is not None and not dist.is_initialized():
        raise RuntimeError("process_group requires initialized torch.distributed.")
    sizes, binary, lengths = _probe(model, example_forward, process_group)
    selected = _select(model, targets, sizes, checkpoint_budget)
    for path in selected:
        module = model.get_submodule(path)
        model.set_submodule(path, checkpoint_module(module, compressor=_compressor(module, binary, compress)))
    if level == 1 or not selected:
        return model
    if split_fn is not None:
        baseline = _spatial(model, example_forward, split_fn, sizes, binary, compress, process_group)
    elif level == 4 or (level >= 3 and can_chunk is not None):
        peak = _trial(model, example_forward, process_group)
        baseline = math.inf if peak is None else peak
    else:
        return model
    if level >= 3 and can_chunk is not None:
        baseline = _temporal(model, example_forward, can_chunk, sizes, lengths, baseline, process_group)
    if level == 4:
        _unwrap(model, example_forward, baseline, process_group)
    return model
