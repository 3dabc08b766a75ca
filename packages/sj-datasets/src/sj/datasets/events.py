"""The canonical event record used by every reader: ``x, y, t, p`` with ``t`` in microseconds.

``EVENT_DTYPE`` is a numpy structured dtype: ``x`` and ``y`` int16 (pixel column and row; for 1-D audio datasets
``x`` is the channel/unit and ``y`` is 0), ``t`` int64 microseconds, ``p`` int8 polarity (0 = OFF, 1 = ON; 0 for
datasets without polarity). A structured array supports ``events["t"]`` like SpikingJelly's event dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np

from sj.datasets.errors import DatasetFormatError

#: The structured dtype of canonical events: ``x``, ``y`` (int16), ``t`` (int64, µs) and ``p`` (int8).
EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
UnsortedPolicy = Literal["raise", "sort"]


MAX_TIME_US = 1 << 62  # ~146,000 years: any larger timestamp is corrupt, and frame arithmetic stays in int64


def make_events(x: np.ndarray, y: np.ndarray | int, t: np.ndarray, p: np.ndarray | int) -> np.ndarray:
    """Build a canonical event array from columns (scalars broadcast). Values must be integral (NaN, ±inf and
    fractions are refused) and fit the field types; else ``ValueError`` naming the column."""
    t = np.asarray(t).reshape(-1)
    out = np.empty(t.shape[0], dtype=EVENT_DTYPE)
    for name, col in (("x", x), ("y", y), ("t", t), ("p", p)):
        col = np.asarray(col)
        if col.ndim > 0:
            col = col.reshape(-1)
            if col.shape[0] != t.shape[0]:
                raise ValueError(f"column {name!r} has {col.shape[0]} values, 't' has {t.shape[0]}")
        info = np.iinfo(out.dtype[name])
        out[name] = integer_column(col, name, info.min, info.max + 1)
    return out


def integer_column(values: np.ndarray, field: str, low: int, high: int) -> np.ndarray:
    """``values`` as int64 if every one is integral (booleans count as 0/1) and in ``[low, high)``; else
    ``ValueError`` naming ``field``, the first bad value and its index."""
    v = np.asarray(values)
    if v.dtype.kind == "b":
        v = v.astype(np.int64)
    if v.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(v) | (v != np.floor(v)))
        if bad.size:
            raise ValueError(f"{field} has a non-integral value {v.flat[bad[0]]!r} at index {bad[0]}")
    elif v.dtype.kind not in "iu":
        raise ValueError(f"{field} has dtype {v.dtype}, not integers")
    if v.size:
        bad = np.flatnonzero((v < low) | (v >= high))
        if bad.size:
            raise ValueError(f"{field} has {v.flat[bad[0]]!r} at index {bad[0]}, outside [{low}, {high - 1}]")
    return v.astype(np.int64)


def times_to_us(values: np.ndarray, scale: float, field: str) -> np.ndarray:
    """Timestamps ``values * scale`` as int64 µs, rounded to nearest; every one finite, >= 0 and below
    :data:`MAX_TIME_US`; else ``ValueError`` naming ``field``, the first bad value and its index."""
    v = np.asarray(values)
    if v.dtype.kind not in "iuf":
        raise ValueError(f"{field} has dtype {v.dtype}, not numbers")
    us = v.astype(np.float64) * scale
    bad = np.flatnonzero(~np.isfinite(us) | (us < 0) | (us >= MAX_TIME_US))
    if bad.size:
        raise ValueError(f"{field} has {v.flat[bad[0]]!r} at index {bad[0]}: not a finite time in [0, "
                         f"{MAX_TIME_US / scale:.3g}) in its unit")
    if v.dtype.kind in "iu" and float(scale).is_integer():
        return v.astype(np.int64) * np.int64(scale)  # exact for integers
    return np.rint(us).astype(np.int64)


def check_coordinates(events: np.ndarray, sensor_size: tuple[int, ...], source: str | Path) -> np.ndarray:
    """``events`` if every ``x`` (and ``y``) lies on the sensor (``(H, W)``, or ``(units,)`` with ``y == 0``);
    else :class:`DatasetFormatError` naming ``source`` and the field."""
    shape = {"y": 1, "x": sensor_size[0]} if len(sensor_size) == 1 else {"y": sensor_size[0], "x": sensor_size[1]}
    for field, size in shape.items():
        try:
            integer_column(events[field], field, 0, size)
        except ValueError as exc:
            raise DatasetFormatError(source, f"event {exc} (sensor {'x'.join(map(str, sensor_size))})") from exc
    return events


def as_event_dict(events: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """SpikingJelly's event dict ``{'t', 'x', 'y', 'p'}`` from a canonical array (or a dict, returned as a dict)."""
    return {k: np.asarray(events[k]) for k in ("t", "x", "y", "p")}


def first_unsorted_index(t: np.ndarray) -> int | None:
    """Index ``i`` of the first event with ``t[i] < t[i-1]``, or None when ``t`` is non-decreasing."""
    if t.size < 2:
        return None
    bad = np.flatnonzero(t[1:] < t[:-1])
    return int(bad[0]) + 1 if bad.size else None


def ensure_time_order(events: np.ndarray, source: str | Path, policy: UnsortedPolicy = "raise") -> np.ndarray:
    """Return ``events`` with non-decreasing ``t``.

    ``policy='raise'`` (default) raises :class:`DatasetFormatError` naming ``source`` and the first offending index;
    ``policy='sort'`` returns a stably time-sorted copy (events with equal ``t`` keep their file order).
    """
    i = first_unsorted_index(events["t"])
    if i is None:
        return events
    if policy == "sort":
        return events[np.argsort(events["t"], kind="stable")]
    if policy != "raise":
        raise ValueError(f"unsorted must be 'raise' or 'sort', got {policy!r}")
    raise DatasetFormatError(
        source, f"timestamps decrease at event {i} (t={events['t'][i - 1]} then {events['t'][i]} µs); pass "
        "unsorted='sort' to sort them stably by time")
