"""What a checkpoint may hold: exactly what ``torch.load(weights_only=True)`` — what :func:`load_checkpoint` uses —
reads back, checked before anything is written, so a checkpoint never saves fine and fails only at resume."""

from __future__ import annotations

import os
import sys
from collections import Counter, OrderedDict
from typing import Any

import torch

_LEAVES = frozenset({type(None), bool, int, float, complex, str, bytes, bytearray, torch.Size, torch.dtype,
                     torch.device, torch.layout, torch.Tensor, torch.nn.Parameter})
_MAPPINGS = (dict, OrderedDict, Counter)
_SEQUENCES = (list, tuple, set)


def _numpy_scalar(obj: object) -> bool:
    np = sys.modules.get("numpy")  # never imported here: a numpy scalar exists only if numpy is loaded
    return np is not None and isinstance(obj, np.generic)


def plain(obj: Any) -> Any:
    """``obj`` with every numpy scalar (``np.float64(0.9)``, ``np.int64(3)``, ...) inside dicts, lists and tuples
    replaced by the Python number or string of the same value, which the weights-only loader accepts."""
    if _numpy_scalar(obj):
        return obj.item()
    if type(obj) in _MAPPINGS:
        out = type(obj)()
        for k, v in obj.items():
            out[plain(k)] = plain(v)
        return out
    if type(obj) in (list, tuple):
        return type(obj)(plain(v) for v in obj)
    return obj


def _safe_globals() -> set:
    return {g[0] if isinstance(g, tuple) else g for g in torch.serialization.get_safe_globals()}


def _advice(obj: object) -> str:
    if type(obj).__name__ == "ndarray":
        return "store torch.from_numpy(value) or value.tolist()"
    if isinstance(obj, os.PathLike):
        return "store str(value)"
    if _numpy_scalar(obj):
        return "store value.item()"
    return ("store numbers, strings, tensors, and lists, tuples and dicts of them, or allow the type with "
            "torch.serialization.add_safe_globals")


def check_loadable(obj: Any, where: str) -> None:
    """Raise ``TypeError`` naming the first entry of ``obj`` (as ``where[key]...``) that the weights-only loader
    refuses. Types registered with ``torch.serialization.add_safe_globals`` are accepted as they are."""
    safe = None
    seen: set[int] = set()
    stack = [(obj, where)]
    while stack:
        o, at = stack.pop()
        t = type(o)
        if t in _LEAVES:
            continue
        if id(o) in seen:
            continue
        seen.add(id(o))
        if t in _MAPPINGS:
            for k, v in o.items():
                stack += [(v, f"{at}[{k!r}]"), (k, f"the key {k!r} of {at}")]
        elif t in _SEQUENCES:
            stack += [(v, f"{at}[{i}]") for i, v in enumerate(o)]
        else:
            safe = _safe_globals() if safe is None else safe
            if t not in safe:
                raise TypeError(f"{at} is a {t.__module__}.{t.__qualname__}, which load_checkpoint could not read "
                                f"back (it loads with torch.load(weights_only=True), which refuses that type): "
                                f"{_advice(o)}")
