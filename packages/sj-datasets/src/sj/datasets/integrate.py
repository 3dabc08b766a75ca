"""Event → frame integration with SpikingJelly's semantics, vectorised (one ``bincount`` per sample).

Frames count events per (frame, channel, row, column). Channel 0 holds events with ``p == 0``, channel 1 events with
``p != 0`` (SpikingJelly's convention). The functions accept SpikingJelly's event dict ``{'t','x','y','p'}`` or a
canonical structured array (:data:`sj.datasets.events.EVENT_DTYPE`); timestamps must be non-decreasing (a
``ValueError`` names the first decreasing index: sort first, e.g. with
:func:`sj.datasets.events.ensure_time_order`). Coordinates outside the frame raise ``ValueError``.

Where SpikingJelly raises ``IndexError`` (a ``split_by='time'`` window without events, an empty recording) these
functions return empty frames instead; on every input SpikingJelly accepts, the result is identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

SplitBy = Literal["number", "time"]
Windows = Literal["greedy", "grid"]
EventsLike = np.ndarray | Mapping[str, np.ndarray]

__all__ = [
    "cal_fixed_frames_number_segment_index",
    "integrate_events_by_fixed_duration",
    "integrate_events_by_fixed_duration_1d",
    "integrate_events_by_fixed_frames_number",
    "integrate_events_by_fixed_frames_number_1d",
    "integrate_events_segment_to_frame",
]


def _column(events: EventsLike, name: str) -> np.ndarray:
    return np.asarray(events[name]).reshape(-1)


def _check_sorted(t: np.ndarray) -> None:
    if t.size > 1:
        bad = np.flatnonzero(t[1:] < t[:-1])
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(f"event timestamps must be non-decreasing; t decreases at index {i} "
                             f"({t[i - 1]} then {t[i]})")


def _as_index(name: str, values: np.ndarray, size: int, itype: type) -> np.ndarray:
    """``values`` as a contiguous ``itype`` array; raises unless every value lies in ``[0, size)`` (one pass: in the
    unsigned view negatives become large)."""
    if values.dtype.kind not in "iub":
        if values.size and not np.array_equal(values, np.floor(values)):
            raise ValueError(f"event coordinate {name} must be integral")
    out = values.astype(itype)
    if out.size and out.view(np.dtype(itype).str.replace("i", "u")).max() >= size:
        raise ValueError(f"event coordinate {name} must lie in [0, {size - 1}]; found values in "
                         f"[{values.min()}, {values.max()}]")
    return out


def cal_fixed_frames_number_segment_index(events_t: np.ndarray, split_by: SplitBy, frames_num: int,
                                          *, float_dt: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges ``[j_l[i], j_r[i])`` of the events in each of ``frames_num`` frames (SpikingJelly's function).

    ``split_by='number'``: ``di = N // M``; frame ``i`` holds events ``[i*di, (i+1)*di)``, the last frame ``[(M-1)*di,
    N)``. ``split_by='time'``: ``dt = (t[N-1] - t[0]) // M`` (floor; exact division when ``float_dt=True``, as in
    SpikingJelly's SHD code); frame ``i`` holds events with ``t0 + i*dt <= t < t0 + (i+1)*dt``, and the last frame
    every event from ``t0 + (M-1)*dt`` on. Returns two int64 arrays of length ``frames_num``.
    """
    if not isinstance(frames_num, (int, np.integer)) or frames_num <= 0:
        raise ValueError(f"frames_num must be a positive int, got {frames_num!r}")
    t = np.asarray(events_t).reshape(-1)
    n = t.size
    if split_by == "number":
        di = n // frames_num
        j_l = np.arange(frames_num, dtype=np.int64) * di
        j_r = j_l + di
    elif split_by == "time":
        _check_sorted(t)
        if n == 0:
            return np.zeros(frames_num, np.int64), np.zeros(frames_num, np.int64)
        span = t[-1] - t[0]
        dt = span / frames_num if float_dt else span // frames_num
        edges = t[0] + dt * np.arange(frames_num + 1)
        cut = np.searchsorted(t, edges, side="left").astype(np.int64)
        j_l, j_r = cut[:-1], cut[1:].copy()
    else:
        raise ValueError(f"split_by must be 'number' or 'time', got {split_by!r}")
    j_r[-1] = n
    return j_l, j_r


def _duration_counts(t: np.ndarray, duration: int, windows: Windows) -> np.ndarray:
    """Number of events per frame (frames cover the events contiguously) for a fixed ``duration``."""
    if not duration > 0:
        raise ValueError(f"duration must be positive, got {duration!r}")
    _check_sorted(t)
    n = t.size
    if n == 0:
        return np.zeros(0, np.int64)
    if windows == "greedy":
        # A frame starts at its first event and takes every event with t - t_start <= duration.
        starts = [0]
        while True:
            nxt = int(np.searchsorted(t, t[starts[-1]] + duration, side="right"))
            if nxt >= n:
                break
            starts.append(nxt)
        bounds = np.append(np.asarray(starts, np.int64), n)
        return np.diff(bounds)
    if windows == "grid":
        # Frames on a fixed grid from t[0]; ceil(span / duration) frames, the last takes the remainder.
        rel = t - t[0]
        frames_num = max(1, int(np.ceil(rel[-1] / duration)))
        frame_of_event = np.minimum(rel // duration, frames_num - 1)
        return np.bincount(frame_of_event.astype(np.int64), minlength=frames_num)
    raise ValueError(f"windows must be 'greedy' or 'grid', got {windows!r}")


_CHUNK = 1 << 16  # events per step: the working set stays in the CPU cache


def _flat_index(x: np.ndarray, y: np.ndarray | None, p: np.ndarray | None, H: int, W: int, itype: type
                ) -> np.ndarray:
    """``(c * H + y) * W + x`` (``c = p != 0``), or ``x`` alone for 1-D, as ``itype``; coordinates range-checked."""
    idx = _as_index("x", x, W, itype)
    if y is None:
        return idx
    flat = _as_index("y", y, H, itype)
    if p is not None:
        c = np.not_equal(p, 0).astype(itype)
        c *= itype(H)
        flat += c
    flat *= itype(W)
    flat += idx
    return flat


def _count(x: np.ndarray, y: np.ndarray | None, p: np.ndarray | None, per_frame: np.ndarray, H: int, W: int,
           dtype: np.dtype) -> np.ndarray:
    """Bin contiguous frames of events; ``per_frame[i]`` events go to frame ``i`` in order. Returns counts
    ``[T, C, H, W]`` (``C = 2`` when ``p`` is given) or ``[T, W]`` when ``y`` is None.

    Events are processed in cache-sized chunks: a flat pixel index (:func:`_flat_index`, int32 unless the frame is
    huge) then ``np.bincount`` accumulated into the frame's counts."""
    T = int(per_frame.size)
    bins = (1 if p is None else 2) * H * W
    itype = np.int32 if bins < 2**31 else np.int64
    counts = np.zeros((T, bins), dtype=np.int64)
    bounds = np.concatenate(([0], np.cumsum(per_frame)))
    for i in range(T):
        for a in range(int(bounds[i]), int(bounds[i + 1]), _CHUNK):
            b = min(a + _CHUNK, int(bounds[i + 1]))
            idx = _flat_index(x[a:b], None if y is None else y[a:b], None if p is None else p[a:b], H, W, itype)
            counts[i] += np.bincount(idx, minlength=bins)
    out = counts.astype(dtype, copy=False)
    return out.reshape((T, W) if y is None else (T, 2 if p is not None else 1, H, W))


def integrate_events_segment_to_frame(x: np.ndarray, y: np.ndarray, p: np.ndarray, H: int, W: int, j_l: int = 0,
                                      j_r: int | None = None) -> np.ndarray:
    """Count events ``[j_l, j_r)`` into a float64 frame ``[2, H, W]`` (SpikingJelly 2.0's function; its default
    ``j_r=None`` takes every event from ``j_l`` on)."""
    sl = slice(j_l, j_r)
    x, y, p = np.asarray(x)[sl], np.asarray(y)[sl], np.asarray(p)[sl]
    return _count(x, y, p, np.asarray([x.size]), H, W, np.dtype(np.float64))[0]


def integrate_events_by_fixed_frames_number(events: EventsLike, split_by: SplitBy, frames_num: int, H: int, W: int,
                                            *, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Frames ``[frames_num, 2, H, W]`` of event counts, split by ``'number'`` or ``'time'``.

    Same result as SpikingJelly's ``integrate_events_by_fixed_frames_number`` (float64 by default; ``dtype`` selects
    another). See :func:`cal_fixed_frames_number_segment_index` for the split.
    """
    t = _column(events, "t")
    j_l, j_r = cal_fixed_frames_number_segment_index(t, split_by, frames_num)  # contiguous, j_l[0] == 0
    return _count(_column(events, "x"), _column(events, "y"), _column(events, "p"), j_r - j_l, H, W, np.dtype(dtype))


def integrate_events_by_fixed_duration(events: EventsLike, duration: int, H: int, W: int, *,
                                       windows: Windows = "grid",
                                       dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Frames ``[T, 2, H, W]`` each covering ``duration`` (same unit as ``t``, µs for canonical events); T varies.

    ``windows='grid'`` (default) is SpikingJelly 2.0's rule: frame ``k`` takes ``k*duration <= t - t0 <
    (k+1)*duration`` with ``ceil((t_last - t0) / duration)`` frames (at least one: SpikingJelly fails on a
    recording of zero length), the last frame taking the remainder. ``windows='greedy'`` is SpikingJelly
    0.0.0.0.14's rule: a frame starts at its first event and takes every following event with
    ``t - t_start <= duration``. An empty recording gives ``T = 0``.
    """
    t = _column(events, "t")
    per_frame = _duration_counts(t, duration, windows)
    return _count(_column(events, "x"), _column(events, "y"), _column(events, "p"), per_frame, H, W, np.dtype(dtype))


def integrate_events_by_fixed_frames_number_1d(events: EventsLike, split_by: SplitBy, frames_num: int, W: int, *,
                                               dtype: np.dtype | type = np.float64) -> np.ndarray:
    """1-D frames ``[frames_num, W]`` counting events per unit ``x`` (SHD/SSC, ``W = 700``).

    SpikingJelly's ``integrate_events_by_fixed_frames_number_shd``: like the 2-D function but without polarity and,
    for ``split_by='time'``, with an exact (not floored) ``dt``.
    """
    t = _column(events, "t")
    j_l, j_r = cal_fixed_frames_number_segment_index(t, split_by, frames_num, float_dt=True)
    return _count(_column(events, "x"), None, None, j_r - j_l, 1, W, np.dtype(dtype))


def integrate_events_by_fixed_duration_1d(events: EventsLike, duration: int, W: int, *, windows: Windows = "grid",
                                          dtype: np.dtype | type = np.float64) -> np.ndarray:
    """1-D frames ``[T, W]`` of fixed ``duration`` (same unit as ``t``). The default ``windows='grid'`` is
    SpikingJelly's ``integrate_events_by_fixed_duration_shd`` rule (which takes ``duration`` in ms of the SHD time in
    seconds: pass ``duration_ms * 1000`` for canonical µs events)."""
    t = _column(events, "t")
    per_frame = _duration_counts(t, duration, windows)
    return _count(_column(events, "x"), None, None, per_frame, 1, W, np.dtype(dtype))


# SpikingJelly's SHD names.
integrate_events_by_fixed_frames_number_shd = integrate_events_by_fixed_frames_number_1d
integrate_events_by_fixed_duration_shd = integrate_events_by_fixed_duration_1d
