"""One sample from raw file to (cached) frames; shared by the Dataset objects and the parallel preprocessing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from sj.datasets.cache import FrameCache
from sj.datasets.errors import CacheWriteError, DatasetFormatError
from sj.datasets.events import UnsortedPolicy, check_coordinates, ensure_time_order
from sj.datasets.params import FrameParams
from sj.datasets.spec import DatasetSpec, SampleRef

DEFAULT_CACHE_NAME = "sj_cache"


def read_events(spec: DatasetSpec, ref: SampleRef, unsorted: UnsortedPolicy = "raise") -> np.ndarray:
    """Canonical events of ``ref`` in time order (see :func:`sj.datasets.events.ensure_time_order`), every
    coordinate on the sensor. Any reader's ``ValueError`` becomes a :class:`DatasetFormatError` naming the file."""
    try:
        events = spec.read(ref)
    except DatasetFormatError:
        raise
    except ValueError as exc:
        raise DatasetFormatError(ref.path, f"sample {ref.key}: {exc}") from exc
    return ensure_time_order(check_coordinates(events, spec.sensor_size, ref.path), ref.path, unsorted)


def compute_frames(spec: DatasetSpec, ref: SampleRef, params: FrameParams) -> np.ndarray:
    """Frames of ``ref`` (no cache). Bad events (e.g. coordinates outside the sensor) raise
    :class:`DatasetFormatError` naming the raw file."""
    events = read_events(spec, ref, params.unsorted)
    try:
        return params.integrate(events, spec.sensor_size)
    except ValueError as exc:
        raise DatasetFormatError(ref.path, f"sample {ref.key}: {exc}") from exc


def cache_for(spec: DatasetSpec, root: Path, split: str, params: FrameParams, cache_dir: Path | None = None
              ) -> FrameCache:
    """The :class:`FrameCache` of a split: ``(cache_dir or root/sj_cache)/<dataset>/<split>/<params folder>``."""
    base = Path(cache_dir) if cache_dir is not None else root / DEFAULT_CACHE_NAME
    directory = base / spec.name / split / params.dir_name(spec.is_1d)
    return FrameCache(directory, root, params.describe(spec.is_1d))


def cached_frames(spec: DatasetSpec, ref: SampleRef, params: FrameParams, cache: FrameCache,
                  on_unwritable: Callable[[CacheWriteError], None] | None = None) -> tuple[np.ndarray, str]:
    """``(frames, state)``: the valid cached entry (state ``'ok'``), or frames rebuilt and stored (state = why the
    entry was rebuilt: ``'missing'``, ``'corrupt: …'``, ``'stale: …'``).

    When the cache cannot be written (read-only, full), :class:`CacheWriteError` is raised, or, with
    ``on_unwritable``, passed to it and the computed frames are returned all the same."""
    state, frames, _ = cache.check(ref)
    if state == "ok":
        return frames, state
    frames = compute_frames(spec, ref, params)
    try:
        cache.store(ref, frames)
    except CacheWriteError as exc:
        if on_unwritable is None:
            raise
        on_unwritable(exc)
    return frames, state
