"""Save and resume training mid-epoch: model, optimizer, scheduler, random state and data-order generators.

Resuming from :func:`save_checkpoint` reproduces the uninterrupted run bit for bit (same seed, hardware, versions and
thread count): parameters, buffers and neuron hyper-parameters come from ``state_dict`` (neurons save their reset
mode, ``detach_reset`` and surrogate there too, and refuse a checkpoint of another neuron type), the optimizer and
scheduler from theirs, and the random streams from their saved states. Transient neuron state (membrane potentials)
is not part of a checkpoint: save between sequences, after ``sj.functional.reset_net``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sj.base import MemoryModule
from sj.training.durable_file import write_durably
from sj.training.portable import check_loadable, plain

FORMAT = "sj.training.checkpoint/1"


def rng_state() -> dict[str, Any]:
    """The global random states: torch CPU, every CUDA device (if any), Python ``random``, NumPy (if installed).

    Only tensors, numbers, strings, lists and tuples, so the result loads with ``torch.load(weights_only=True)``.
    """
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:
        return state
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = (name, keys.tolist(), pos, has_gauss, cached)
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np

        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def _check_no_state(model: nn.Module) -> None:
    for name, m in model.named_modules():
        held = [k for k, v in m.named_memories() if isinstance(v, torch.Tensor)] if isinstance(m, MemoryModule) else []
        if held:
            raise ValueError(f"save_checkpoint: {type(m).__name__} {name!r} holds state {held} from the current "
                             "sequence, which a checkpoint does not keep (so resuming would not continue it); call "
                             "sj.functional.reset_net(model) first, or pass allow_state=True")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, *,
                    scheduler: Any | None = None, generators: dict[str, torch.Generator] | None = None,
                    extra: dict[str, Any] | None = None, allow_state: bool = False) -> None:
    """Write a training checkpoint to ``path``: the previous file stays whole until the new one is complete.

    The checkpoint goes to a temporary file beside ``path``, is flushed to the disk, read back once as
    :func:`load_checkpoint` will (``torch.load(weights_only=True)``, memory-mapped: the tensors are not copied), and
    renamed over ``path``; the directory is flushed too. Temporaries left by saves of ``path`` that were killed (on
    this host) are deleted first (``sj.training.durable_file``).

    Args:
        model: its ``state_dict`` (an ``nn.parallel.DistributedDataParallel`` wrapper is unwrapped).
        optimizer, scheduler: their ``state_dict`` s, if given.
        generators: named ``torch.Generator`` s (e.g. the one driving a ``DataLoader``'s shuffling) whose states are
            saved, so the data order continues where it stopped.
        extra: anything else to keep (epoch, step, best metric...): numbers, strings, tensors, and lists, tuples and
            dicts of them. NumPy scalars are stored as the Python numbers of the same value.
        allow_state: save even if neurons hold state from a sequence in progress (that state is not saved).

    Raises ``ValueError`` if a module holds transient state and ``allow_state`` is false, and ``TypeError`` naming the
    entry (e.g. ``extra['log_dir']``) that ``load_checkpoint`` could not read back (a NumPy array, a ``Path``, an
    object of a class), before anything is written.
    """
    model = getattr(model, "module", model) if isinstance(model, nn.parallel.DistributedDataParallel) else model
    if not allow_state:
        _check_no_state(model)
    payload = {"format": FORMAT, "model": model.state_dict(), "rng": rng_state(),
               "generators": {k: g.get_state() for k, g in (generators or {}).items()}, "extra": plain(extra or {})}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    try:
        for key, value in payload.items():
            check_loadable(value, key)
    except TypeError as exc:
        raise TypeError(f"save_checkpoint: {exc}; nothing was written") from None
    write_durably(Path(path), lambda f: torch.save(payload, f), _check_reads_back)


def _check_reads_back(tmp: Path) -> None:
    """The finished file loads as load_checkpoint loads it (anything check_loadable could not foresee)."""
    try:
        torch.load(tmp, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise TypeError(f"save_checkpoint: the checkpoint would not load back with torch.load(weights_only=True), as "
                        f"load_checkpoint loads it; nothing was written: {exc}") from exc


def load_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, *,
                    scheduler: Any | None = None, generators: dict[str, torch.Generator] | None = None,
                    map_location: str | torch.device | None = "cpu", restore_rng: bool = True) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint` (strict ``state_dict`` loading); return its ``extra``.

    The objects passed must match what was saved: a missing optimizer/scheduler/generator entry raises ``KeyError``
    naming it, and a model mismatch raises as ``nn.Module.load_state_dict`` does (neurons of another type or a
    malformed neuron entry raise ``ValueError``). Loads with ``weights_only=True``.
    """
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"load_checkpoint: {os.fspath(path)!r} is not an sj training checkpoint ({FORMAT})")
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None and name not in payload:
            raise KeyError(f"load_checkpoint: {os.fspath(path)!r} has no {name} state")
    missing = sorted(set(generators or {}) - set(payload["generators"]))
    if missing:
        raise KeyError(f"load_checkpoint: {os.fspath(path)!r} has no state for generators {missing}; it has "
                       f"{sorted(payload['generators'])}")
    model = getattr(model, "module", model) if isinstance(model, nn.parallel.DistributedDataParallel) else model
    model.load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(payload["scheduler"])
    for k, g in (generators or {}).items():
        g.set_state(payload["generators"][k])
    if restore_rng:
        set_rng_state(payload["rng"])
    return payload["extra"]
