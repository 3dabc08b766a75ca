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

EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
UnsortedPolicy = Literal["raise", "sort"]


def make_events(x: np.ndarray, y: np.ndarray | int, t: np.ndarray, p: np.ndarray | int) -> np.ndarray:
    """Build a canonical event array from columns (scalars broadcast). Values must fit the field types."""
    t = np.asarray(t).reshape(-1)
    out = np.empty(t.shape[0], dtype=EVENT_DTYPE)
    for name, col in (("x", x), ("y", y), ("t", t), ("p", p)):
        col = np.asarray(col)
        if col.ndim > 0:
            col = col.reshape(-1)
            if col.shape[0] != t.shape[0]:
                raise ValueError(f"column {name!r} has {col.shape[0]} values, 't' has {t.shape[0]}")
        info = np.iinfo(out.dtype[name])
        if col.size and (col.min() < info.min or col.max() > info.max):
            raise ValueError(f"column {name!r} has values outside [{info.min}, {info.max}]")
        out[name] = col
    return out


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
