"""ATIS ``.dat`` "TD" recordings of NAVGesture, decoded exactly as SpikingJelly 2.0 (``_readATIS_tddat``), vectorised.

Layout: optional header lines starting with ``%``, then (only after a header) one byte event type and one byte
event size (must be 8), then little-endian uint64 events: timestamp µs = bits 0-31, x = bits 32-40, y = bits 41-48,
polarity = bit 49; trailing bytes short of an event are ignored.

SpikingJelly's reader has two quirks kept here for identical frames: an event whose timestamp is below the value
*stored* for the previous event is dropped, but the previous stored value of a dropped event is 0 and the arrays are
cut to the count of kept events from the front (so a hole of zeros stays and the last kept events go); then times
are shifted to start at 0 and, pass after pass, every event whose time is below its predecessor's is removed (a
removal skips the next comparison).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sj.datasets.errors import DatasetFormatError
from sj.datasets.io.guard import reading

_HEADER_LIMIT = 1 << 20  # bytes of '%' header lines


def _even_offsets_in_runs(flags: np.ndarray) -> np.ndarray:
    """True where ``flags`` is True at an even offset (0, 2, 4, …) from the start of its run of Trues."""
    idx = np.arange(flags.size)
    starts = np.maximum.accumulate(np.where(flags & ~np.concatenate(([False], flags[:-1])), idx, 0))
    return flags & ((idx - starts) % 2 == 0)


def read_atis_td(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(t, x, y, p)`` int64 arrays of a NAVGesture ``.dat`` file, as SpikingJelly's reader returns them
    (``t`` starting at 0; ``y`` not yet mirrored)."""
    path = Path(path)
    with reading(path):
        data = path.read_bytes()
        pos = 0
        while data.startswith(b"%", pos):
            end = data.find(b"\n", pos)
            if end < 0 or end > _HEADER_LIMIT:
                raise DatasetFormatError(path, "header line without end")
            pos = end + 1
        if pos:
            if len(data) < pos + 2:
                raise DatasetFormatError(path, "truncated header: no event type and size")
            if data[pos + 1] != 8:
                raise DatasetFormatError(path, f"event size {data[pos + 1]}, expected 8")
            pos += 2
        n = (len(data) - pos) // 8
        words = np.frombuffer(data, dtype="<u8", count=n, offset=pos)
    ts = (words & 0xFFFFFFFF).astype(np.int64)
    fields = np.stack([ts, ((words >> 32) & 0x1FF).astype(np.int64), ((words >> 41) & 0xFF).astype(np.int64),
                       ((words >> 49) & 1).astype(np.int64)])
    if n == 0:
        raise DatasetFormatError(path, "no events")
    # Drop an event whose timestamp is below the stored previous one (0 after a drop): inside a run of decreases
    # the 1st, 3rd, … are dropped. Kept events stay in place, then the first `kept` slots are kept.
    dropped = _even_offsets_in_runs(np.concatenate(([False], ts[1:] < ts[:-1])))
    stored = np.where(dropped, 0, fields)
    stored = stored[:, : n - int(dropped.sum())]
    stored[0] -= stored[0, 0]
    while True:  # SpikingJelly's passes removing negative time steps
        negative = stored[0, 1:] < stored[0, :-1]
        if not negative.any():
            break
        removed = np.flatnonzero(_even_offsets_in_runs(negative)) + 1
        stored = np.delete(stored, removed, axis=1)
    return stored[0], stored[1], stored[2], stored[3]
