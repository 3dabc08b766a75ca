"""How events become frames: fixed frames number, fixed duration, or a custom function — and its cache identity."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sj.datasets import integrate as I
from sj.datasets.events import UnsortedPolicy, as_event_dict


def _function_identity(fn: Callable[..., Any]) -> dict[str, str]:
    """Module, qualified name and a hash of the source (or bytecode) of ``fn``: a changed function is a new cache."""
    try:
        body = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        body = code.co_code if code is not None else repr(fn).encode()
    return {"module": getattr(fn, "__module__", "?"), "name": getattr(fn, "__qualname__", repr(fn)),
            "source_sha256": hashlib.sha256(body).hexdigest()}


@dataclass(frozen=True)
class FrameParams:
    """Exactly one of ``frames_number`` (with ``split_by`` ``'number'``/``'time'``), ``duration`` (same unit as
    ``t``: µs; ``windows`` ``'grid'`` (default: SpikingJelly 2.0's rule) or ``'greedy'`` (SpikingJelly 0.0.0.0.14's)) or
    ``custom_integrate_function`` (called as ``f(events_dict, H, W)`` for cameras, ``f(events_dict, W)`` for 1-D,
    returning an array) must be set. ``unsorted`` is the policy for decreasing timestamps ('raise' or 'sort')."""

    frames_number: int | None = None
    split_by: str | None = None
    duration: int | None = None
    windows: str | None = None
    custom_integrate_function: Callable[..., np.ndarray] | None = None
    custom_integrated_frames_dir_name: str | None = None
    unsorted: UnsortedPolicy = "raise"

    def __post_init__(self) -> None:
        chosen = [n for n, v in (("frames_number", self.frames_number), ("duration", self.duration),
                                 ("custom_integrate_function", self.custom_integrate_function)) if v is not None]
        if len(chosen) != 1:
            raise ValueError("frame data needs exactly one of frames_number, duration, custom_integrate_function; "
                             f"got {chosen or 'none'}")
        if self.frames_number is not None:
            if not isinstance(self.frames_number, int) or self.frames_number <= 0:
                raise ValueError(f"frames_number must be a positive int, got {self.frames_number!r}")
            if self.split_by not in ("number", "time"):
                raise ValueError(f"split_by must be 'number' or 'time', got {self.split_by!r}")
        if self.duration is not None and (not isinstance(self.duration, int) or self.duration <= 0):
            raise ValueError(f"duration must be a positive int (µs), got {self.duration!r}")
        if self.windows not in (None, "greedy", "grid"):
            raise ValueError(f"windows must be 'greedy' or 'grid', got {self.windows!r}")
        if self.unsorted not in ("raise", "sort"):
            raise ValueError(f"unsorted must be 'raise' or 'sort', got {self.unsorted!r}")

    def describe(self, one_d: bool) -> dict[str, Any]:
        """A JSON-able description: everything that changes the frames."""
        d: dict[str, Any] = {"unsorted": self.unsorted, "layout": "1d" if one_d else "2d"}
        if self.frames_number is not None:
            d.update(mode="frames_number", frames_number=self.frames_number, split_by=self.split_by)
        elif self.duration is not None:
            d.update(mode="duration", duration_us=self.duration, windows=self.window_rule)
        else:
            d.update(mode="custom", function=_function_identity(self.custom_integrate_function))
        return d

    @property
    def window_rule(self) -> str:
        """The ``duration`` window rule in effect: ``windows`` or the default ``'grid'``."""
        return self.windows or "grid"

    def dir_name(self, one_d: bool) -> str:
        """A readable, unique folder name, e.g. ``frames_number_16_split_by_number-1a2b3c4d``."""
        d = self.describe(one_d)
        if self.frames_number is not None:
            slug = f"frames_number_{self.frames_number}_split_by_{self.split_by}"
        elif self.duration is not None:
            slug = f"duration_{self.duration}_{d['windows']}"
        else:
            slug = self.custom_integrated_frames_dir_name or d["function"]["name"]
        digest = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]
        return f"{slug}-{digest}"

    def integrate(self, events: np.ndarray, sensor_size: tuple[int, ...]) -> np.ndarray:
        """Frames of one sample as float32: ``[T, 2, H, W]`` for cameras, ``[T, W]`` for 1-D."""
        one_d = len(sensor_size) == 1
        if self.custom_integrate_function is not None:
            out = self.custom_integrate_function(as_event_dict(events), *sensor_size)
            return np.asarray(out, dtype=np.float32)
        f32 = np.float32
        if one_d:
            (w,) = sensor_size
            if self.frames_number is not None:
                return I.integrate_events_by_fixed_frames_number_1d(events, self.split_by, self.frames_number, w,
                                                                    dtype=f32)
            return I.integrate_events_by_fixed_duration_1d(events, self.duration, w,
                                                           windows=self.window_rule, dtype=f32)
        h, w = sensor_size
        if self.frames_number is not None:
            return I.integrate_events_by_fixed_frames_number(events, self.split_by, self.frames_number, h, w, dtype=f32)
        return I.integrate_events_by_fixed_duration(events, self.duration, h, w, windows=self.window_rule,
                                                    dtype=f32)
