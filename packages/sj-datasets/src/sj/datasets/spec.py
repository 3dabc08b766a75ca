"""What sj-datasets knows about one dataset: where its files live, how samples are indexed and read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Resource:
    """A published file: ``filename`` as placed in ``root``, its ``md5``, where to get it (``url``), archives found
    inside it that must be extracted in turn (``nested``, glob patterns; each into its own folder named after it
    when ``nested_into_stem``, else beside it), and whether it is an archive at all (``extract``; a plain file such
    as a label list is only verified)."""

    filename: str
    md5: str
    url: str
    nested: tuple[str, ...] = ()
    nested_into_stem: bool = False
    extract: bool = True


@dataclass(frozen=True)
class SampleRef:
    """One sample: its cache ``key`` (unique in the split, a relative path), the raw file ``path``, its ``label``,
    and optionally a time cut ``[start, stop)`` in µs (DVS Gesture AEDAT) or an HDF5 ``row`` (SHD/SSC)."""

    key: str
    path: Path
    label: int
    start: int | None = None
    stop: int | None = None
    row: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: ``name`` (CLI and registry key), ``summary``, ``sensor_size`` (``(H, W)`` for cameras, ``(units,)``
    for 1-D audio), ``splits``, ``marker(split)`` (a glob pattern relative to ``root``; a match means the files are
    extracted), ``resources(split)``, ``index(root, split) -> (samples, class_names)`` (reads no event data),
    ``read(ref) -> canonical events`` and ``reader`` (which code reads the raw files, for the docs)."""

    name: str
    summary: str
    sensor_size: tuple[int, ...]
    splits: tuple[str, ...]
    marker: Callable[[str], str]
    resources: Callable[[str], tuple[Resource, ...]]
    index: Callable[[Path, str], tuple[list[SampleRef], tuple[str, ...]]]
    read: Callable[[SampleRef], np.ndarray]
    reader: str
    layout: str
    aliases: tuple[str, ...] = field(default=())

    def samples(self, root: Path, split: str) -> tuple[list[SampleRef], tuple[str, ...]]:
        """``index(root, split)`` with every entry checked: its key a plain relative path and its file, links
        resolved, inside ``root`` (:class:`~sj.datasets.errors.UnsafePathError` otherwise). Use this, not ``index``."""
        from sj.datasets.paths import check_samples

        refs, classes = self.index(root, split)
        check_samples(root, refs)
        return refs, classes

    def present(self, root: Path, split: str) -> bool:
        """True when the extracted files of ``split`` are under ``root`` (the marker pattern matches)."""
        return next(iter(Path(root).glob(self.marker(split))), None) is not None

    @property
    def is_1d(self) -> bool:
        """True for 1-D (audio) datasets whose frames are ``[T, units]``."""
        return len(self.sensor_size) == 1

    def split_of(self, train: bool | None, split: str | None = None) -> str:
        """Resolve SpikingJelly's ``train`` flag (or an explicit ``split``) to one of :attr:`splits`."""
        if split is None:
            split = self.splits[0] if train is None else ("train" if train else "test")
            if len(self.splits) == 1:
                if train is not None:
                    raise ValueError(f"{self.name} has no train/test division; pass train=None and use "
                                     "sj.datasets.stratified_split")
                split = self.splits[0]
        if split not in self.splits:
            raise ValueError(f"{self.name} has splits {self.splits}, not {split!r}")
        return split
