"""The torch ``Dataset`` over any catalogued dataset, events or (cached) frames."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sj.datasets.archives import ensure_available
from sj.datasets.catalog import get_spec
from sj.datasets.errors import CacheWriteError
from sj.datasets.events import UnsortedPolicy
from sj.datasets.params import FrameParams
from sj.datasets.pipeline import cache_for, cached_frames, read_events
from sj.datasets.prepare import PrepareReport, prepare
from sj.datasets.spec import DatasetSpec


class NeuromorphicDataset(Dataset):
    """A split of a neuromorphic dataset as ``(sample, label)`` pairs.

    Args:
        name: dataset name (see ``sj datasets list``), e.g. ``"dvs128_gesture"``, or a :class:`DatasetSpec`.
        root: folder holding the dataset's files (used as they are; archives there are checksummed and extracted).
        train: SpikingJelly's flag: True → ``'train'``, False → ``'test'``; None for datasets without a division.
        split: explicit split name instead of ``train`` (e.g. SSC's ``'valid'``).
        data_type: ``'event'`` → samples are canonical event arrays (``x, y, t [µs], p``; index them like
            SpikingJelly's dict, ``ev['t']``); ``'frame'`` → float32 tensors ``[T, 2, H, W]`` (``[T, units]`` for
            SHD/SSC) of event counts.
        frames_number, split_by, duration, custom_integrate_function, custom_integrated_frames_dir_name: how frames
            are made (see :class:`sj.datasets.params.FrameParams`; ``duration`` in µs).
        windows: ``duration`` window rule: ``'grid'`` (default; SpikingJelly 2.0's) or ``'greedy'`` (SpikingJelly
            0.0.0.0.14's); see :func:`~sj.datasets.integrate.integrate_events_by_fixed_duration`.
        transform, target_transform: applied to the sample (after conversion to a tensor for frames) and the label.
        download: fetch missing archives (never implied).
        cache_dir: frame cache root (default ``root/sj_cache``); frames are computed on first access and cached
            atomically; :meth:`prepare` fills the cache in parallel.
        unsorted: ``'raise'`` (default) or ``'sort'`` for recordings whose timestamps decrease.

    Attributes: ``samples`` (list of :class:`SampleRef`), ``targets`` (labels, known without reading any sample),
    ``classes`` (class names), ``spec``, ``split``.
    """

    def __init__(self, name: str | DatasetSpec, root: str | Path, train: bool | None = None, *,
                 split: str | None = None, data_type: str = "event", frames_number: int | None = None,
                 split_by: str | None = None, duration: int | None = None,
                 custom_integrate_function: Callable[..., np.ndarray] | None = None,
                 custom_integrated_frames_dir_name: str | None = None, windows: str | None = None,
                 transform: Callable[[Any], Any] | None = None, target_transform: Callable[[int], Any] | None = None,
                 download: bool = False, cache_dir: str | Path | None = None,
                 unsorted: UnsortedPolicy = "raise") -> None:
        super().__init__()
        self.spec = name if isinstance(name, DatasetSpec) else get_spec(name)
        self.root = Path(root).expanduser()
        self.split = self.spec.split_of(train, split)
        if data_type not in ("event", "frame"):
            raise ValueError(f"data_type must be 'event' or 'frame', got {data_type!r}")
        self.data_type = data_type
        self.transform = transform
        self.target_transform = target_transform
        self.unsorted = unsorted
        ensure_available(self.spec, self.root, self.split, download)
        self.samples, self.classes = self.spec.samples(self.root, self.split)
        self.targets = [r.label for r in self.samples]
        self.params: FrameParams | None = None
        self._warned_unwritable = False
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        if data_type == "frame":
            self.params = FrameParams(frames_number, split_by, duration, windows, custom_integrate_function,
                                      custom_integrated_frames_dir_name, unsorted)
            self.cache = cache_for(self.spec, self.root, self.split, self.params, self.cache_dir)

    def __len__(self) -> int:
        return len(self.samples)

    def events(self, index: int) -> np.ndarray:
        """Canonical events of sample ``index`` (no transform)."""
        return read_events(self.spec, self.samples[index], self.unsorted)

    def frames(self, index: int) -> np.ndarray:
        """Frames of sample ``index`` as a float32 array (cached; a corrupt or stale entry is rebuilt)."""
        if self.params is None:
            raise ValueError("frames() needs data_type='frame'")
        frames, _ = cached_frames(self.spec, self.samples[index], self.params, self.cache, self._cache_unwritable)
        return frames.astype(np.float32, copy=False)

    def _cache_unwritable(self, exc: CacheWriteError) -> None:
        """Serve computed frames from an unwritable cache; say so once per dataset object (and process)."""
        if not self._warned_unwritable:
            self._warned_unwritable = True
            warnings.warn(f"{exc}. Frames are computed on every access until the cache is writable "
                          "(or pass cache_dir= a writable folder).", RuntimeWarning, stacklevel=3)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        sample: Any = self.events(index) if self.params is None else torch.from_numpy(self.frames(index))
        label: Any = self.targets[index]
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return sample, label

    def prepare(self, num_workers: int | None = None, progress: bool = True) -> PrepareReport:
        """Fill the frame cache for every sample in parallel processes (resumable; see :func:`prepare`)."""
        if self.params is None:
            raise ValueError("prepare() needs data_type='frame'")
        return prepare(self.spec.name, self.root, self.split, self.params, samples=self.samples,
                       cache_dir=self.cache_dir, num_workers=num_workers, progress=progress)
