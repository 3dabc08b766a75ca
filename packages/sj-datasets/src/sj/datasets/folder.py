"""SpikingJelly 2.0's dataset-definition API: :class:`NeuromorphicDatasetFolder`, its configuration and builders.

Code that defines a dataset by subclassing SpikingJelly's ``NeuromorphicDatasetFolder`` (``get_H_W``,
``resource_url_md5``, ``downloadable``, ``extract_downloaded_files``, ``create_raw_from_extracted``) runs unchanged:
the same folders (``root/download``, ``root/extract``, ``root/events_np``, ``root/frames_number_16_split_by_number``
…), the same files, the same samples and labels (torchvision ``DatasetFolder``'s rule: class = sub-folder, classes
in sorted order, files sorted). Differences, all about safety: torchvision is not needed; every frame file is written
atomically, so an interrupted build is resumed by running again (SpikingJelly refuses until you delete its
half-built folder); files are loaded without unpickling, and only files inside ``root`` (links resolved) are read.
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from sj.datasets.archives import _download, md5sum
from sj.datasets.files import (
    integrate_events_file_to_frames_file_by_fixed_duration,
    integrate_events_file_to_frames_file_by_fixed_frames_number,
)
from sj.datasets.loaders import load_event_file, load_npz_frames, np_savez
from sj.datasets.paths import check_samples
from sj.datasets.spec import Resource, SampleRef

log = logging.getLogger("sj.datasets")


def max_threads() -> int:
    """SpikingJelly's ``configure.max_threads_number_for_datasets_preprocess``: the environment variable
    ``SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS`` (default 16)."""
    value = int(os.environ.get("SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS", "16"))
    if value <= 0:
        raise ValueError(f"SJ_MAX_THREADS_NUMBER_FOR_DATASETS_PREPROCESS must be positive, got {value}")
    return value


@dataclass(frozen=True)
class NeuromorphicDatasetConfig:
    """What a user chose for a dataset (SpikingJelly's fields and checks): ``data_type`` ``'event'`` or
    ``'frame'``; for frames exactly one of ``frames_number`` (with ``split_by`` ``'time'``/``'number'``),
    ``duration`` (µs, positive int) or ``custom_integrate_function``."""

    root: Path
    train: bool | None
    data_type: str = "event"
    frames_number: int | None = None
    split_by: str | None = None
    duration: int | None = None
    custom_integrate_function: Callable[..., Any] | None = None
    custom_integrated_frames_dir_name: str | None = None
    transform: Callable[[Any], Any] | None = None
    target_transform: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.data_type not in ("event", "frame"):
            raise ValueError(f'data_type must be "event" or "frame", but got {self.data_type}')
        if self.data_type == "event":
            return
        chosen = [v is not None for v in (self.frames_number, self.duration, self.custom_integrate_function)]
        if sum(chosen) != 1:
            raise ValueError('When data_type="frame", one and only one of "frames_number", "duration", or '
                             '"custom_integrate_function" should be set.')
        if self.frames_number is not None:
            if not isinstance(self.frames_number, int) or self.frames_number <= 0:
                raise ValueError("frames_number must be a positive integer")
            if self.split_by not in ("time", "number"):
                raise ValueError('split_by must be "time" or "number"')
        if self.duration is not None and (not isinstance(self.duration, int) or self.duration <= 0):
            raise ValueError("duration must be a positive integer")


class NeuromorphicDatasetBuilder(abc.ABC):
    """Turns the raw event files under ``raw_root`` into the files a :class:`NeuromorphicDatasetFolder` loads.
    Subclasses give :attr:`processed_root`, :meth:`build_impl` and :meth:`get_loader`."""

    def __init__(self, cfg: NeuromorphicDatasetConfig, raw_root: Path) -> None:
        self.cfg = cfg
        self.raw_root = raw_root

    @property
    @abc.abstractmethod
    def processed_root(self) -> Path:
        """Folder of the processed dataset."""

    def build(self) -> tuple[Path, Callable[[str], Any]]:
        """Build the processed dataset unless :attr:`processed_root` holds a finished one; ``(processed_root,
        loader)``. A ``<processed_root>.building`` marker left by an interrupted build makes this build resume
        (every output is rewritten atomically)."""
        marker = self.processed_root.with_name(f"{self.processed_root.name}.building")
        if self.processed_root.exists() and not marker.exists():
            log.info("The directory [%s] already exists.", self.processed_root)
        else:
            marker.touch()
            self.processed_root.mkdir(exist_ok=True)
            self.build_impl()
            marker.unlink()
        return self.processed_root, self.get_loader()

    def build_impl(self) -> None:
        """Write the processed files under :attr:`processed_root`."""
        raise NotImplementedError

    @abc.abstractmethod
    def get_loader(self) -> Callable[[str], Any]:
        """The function loading one processed file."""

    def _run_preprocess_tasks(self, process: Callable[..., Any], tasks: Any) -> None:
        with ThreadPoolExecutor(max_workers=max_threads()) as executor:
            for future in [executor.submit(process, *args) for args in tasks]:
                future.result()

    def _build_from_event_files(self, process: Callable[[Path, Path], Any]) -> None:
        """``process(event file, output folder)`` for every file under :attr:`raw_root`, in a mirrored tree (the
        folders of :func:`create_same_directory_structure`, where folders left by an interrupted build may exist)."""

        def tasks():
            for event_root, dirs, event_files in os.walk(self.raw_root):  # top-down: output_dir exists already
                output_dir = self.processed_root / Path(event_root).relative_to(self.raw_root)
                for d in dirs:  # linked folders too (made empty, as os.walk does not enter them)
                    (output_dir / d).mkdir(exist_ok=True)
                for event_file in sorted(event_files):
                    yield Path(event_root) / event_file, output_dir

        self._run_preprocess_tasks(process, tasks())


class EventBuilder(NeuromorphicDatasetBuilder):
    """No processing: the raw event files are the samples (``.npy`` → array, ``.npz`` → dict of arrays)."""

    def build(self) -> tuple[Path, Callable[[str], Any]]:
        return self.processed_root, self.get_loader()

    @property
    def processed_root(self) -> Path:
        return self.raw_root

    def get_loader(self) -> Callable[[str], Any]:
        return load_event_file


class _FrameBuilder(NeuromorphicDatasetBuilder):
    """A builder of frames ``H x W`` from event files read by ``_event_loader``; frame files load as float32."""

    _event_loader = staticmethod(load_event_file)

    def __init__(self, cfg: NeuromorphicDatasetConfig, raw_root: Path, H: int, W: int) -> None:
        super().__init__(cfg, raw_root)
        self.H, self.W = H, W

    def get_loader(self) -> Callable[[str], Any]:
        return load_npz_frames


class FrameFixedNumberBuilder(_FrameBuilder):
    """``frames_number`` frames per sample, split by ``split_by``, in ``root/frames_number_<n>_split_by_<s>``."""

    def build_impl(self) -> None:
        self._build_from_event_files(partial(
            integrate_events_file_to_frames_file_by_fixed_frames_number, self._event_loader,
            split_by=self.cfg.split_by, frames_num=self.cfg.frames_number, H=self.H, W=self.W, print_save=True))

    @property
    def processed_root(self) -> Path:
        return self.cfg.root / f"frames_number_{self.cfg.frames_number}_split_by_{self.cfg.split_by}"


class FrameFixedDurationBuilder(_FrameBuilder):
    """Frames of ``duration`` each (SpikingJelly 2.0's grid windows), in ``root/duration_<d>``; files are named
    ``<stem>_<T>.npz``."""

    def build_impl(self) -> None:
        self._build_from_event_files(partial(
            integrate_events_file_to_frames_file_by_fixed_duration, self._event_loader, duration=self.cfg.duration,
            H=self.H, W=self.W, print_save=True))

    @property
    def processed_root(self) -> Path:
        return self.cfg.root / f"duration_{self.cfg.duration}"


class FrameCustomIntegrateBuilder(_FrameBuilder):
    """Frames ``custom_integrate_function(events, H, W)``, in ``root/<custom_integrated_frames_dir_name or the
    function's name>``."""

    def build_impl(self) -> None:
        def process(events_file: Path, output_dir: Path) -> None:
            frames = self.cfg.custom_integrate_function(self._event_loader(events_file), self.H, self.W)
            np_savez(output_dir / events_file.name, frames=frames)

        self._build_from_event_files(process)

    @property
    def processed_root(self) -> Path:
        name = self.cfg.custom_integrated_frames_dir_name or self.cfg.custom_integrate_function.__name__
        return self.cfg.root / name


class NeuromorphicDatasetFolder(Dataset):
    """Base of datasets defined the SpikingJelly 2.0 way (see the module docstring). Subclasses implement the
    classmethods ``get_H_W``, ``resource_url_md5`` (``[(file name, url, md5 or None), ...]``), ``downloadable``,
    ``extract_downloaded_files(download_root, extract_root)`` and ``create_raw_from_extracted(extract_root,
    raw_root)``, which writes the raw event files as ``raw_root/[train|test/]<class>/<sample>.npz``.

    Samples are ``(loader(file), class index)`` with ``transform``/``target_transform`` applied; ``classes``,
    ``class_to_idx``, ``samples`` and ``targets`` are as in torchvision's ``DatasetFolder``."""

    def __init__(self, root: str | Path, train: bool | None = None, data_type: str = "event",
                 frames_number: int | None = None, split_by: str | None = None, duration: int | None = None,
                 custom_integrate_function: Callable[..., Any] | None = None,
                 custom_integrated_frames_dir_name: str | None = None,
                 transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[Any], Any] | None = None) -> None:
        self.cfg = NeuromorphicDatasetConfig(Path(root), train, data_type, frames_number, split_by, duration,
                                             custom_integrate_function, custom_integrated_frames_dir_name, transform,
                                             target_transform)
        self.prepare_raw_dataset()
        self.processed_root, loader = self.get_dataset_builder().build()
        if self.cfg.train is not None:
            split_root = self.processed_root / ("train" if self.cfg.train else "test")
        else:
            split_root = self.get_root_when_train_is_none(self.processed_root)
        self._index_folder(split_root, loader)

    def _index_folder(self, root: Path, loader: Callable[[str], Any]) -> None:
        """torchvision ``DatasetFolder``'s index of ``root``; every sample must lie inside ``cfg.root``."""
        self.root, self.loader = root, loader
        self.transform, self.target_transform = self.cfg.transform, self.cfg.target_transform
        self.extensions = self.get_extensions()
        self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {root}.")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        refs = [SampleRef(os.path.relpath(Path(folder) / name, self.cfg.root), Path(folder) / name, idx)
                for cls, idx in self.class_to_idx.items()
                for folder, _, names in sorted(os.walk(root / cls, followlinks=True))
                for name in sorted(names) if name.lower().endswith(self.extensions)]
        check_samples(self.cfg.root, refs)
        self.samples: list[tuple[str, int]] = [(str(ref.path), ref.label) for ref in refs]
        self.targets = [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    @property
    def raw_root(self) -> Path:
        """Folder of the raw event files: ``root/events_np``."""
        return self.cfg.root / "events_np"

    @classmethod
    def _check_downloaded_files(cls, download_root: Path) -> None:
        for file_name, url, md5 in cls.resource_url_md5():
            path = download_root / file_name
            if path.is_file() and (md5 is None or md5sum(path) == md5):
                continue
            log.warning("The downloaded file [%s] is missing or corrupted.", path)
            path.unlink(missing_ok=True)
            if not cls.downloadable():
                raise NotImplementedError(f"This dataset can not be downloaded by SpikingJelly, please download "
                                          f"[{file_name}] from [{url}] manually and put files at {download_root}.")
            _download(Resource(file_name, md5, url), download_root)

    @classmethod
    def _download_all_files(cls, download_root: Path) -> None:
        resources = cls.resource_url_md5()
        if not cls.downloadable():
            raise NotImplementedError(f"This dataset can not be downloaded by SpikingJelly, please download files "
                                      f"manually and put files at [{download_root}]. The resources file_name, url, "
                                      f"and md5 are: \n{resources}")
        for file_name, url, md5 in resources:
            _download(Resource(file_name, md5, url), download_root)

    def prepare_raw_dataset(self) -> None:
        """Make :attr:`raw_root`: check or download ``root/download``, extract into ``root/extract``, then
        ``create_raw_from_extracted``. A ``events_np.building`` marker (an interrupted run of your
        ``create_raw_from_extracted``, whose partial output cannot be judged) raises ``RuntimeError``."""
        marker = self.raw_root.with_name(f"{self.raw_root.name}.building")
        if marker.exists():
            raise RuntimeError(f"Found unfinished dataset preparation marker [{marker}]. Clean the partial dataset "
                               "directories and remove the marker before retrying.")
        if self.raw_root.exists():
            return
        marker.touch(exist_ok=False)
        download_root = self.cfg.root / "download"
        if download_root.exists():
            self._check_downloaded_files(download_root)
        else:
            download_root.mkdir()
            self._download_all_files(download_root)
        extract_root = self.cfg.root / "extract"
        if extract_root.exists():
            log.warning("The extracted directory [%s] already exists and is not checked; delete it if it is "
                        "corrupted.", extract_root)
        else:
            extract_root.mkdir()
            self.extract_downloaded_files(download_root, extract_root)
        self.raw_root.mkdir(exist_ok=True)
        self.create_raw_from_extracted(extract_root, self.raw_root)
        marker.unlink()

    def get_dataset_builder(self) -> NeuromorphicDatasetBuilder:
        """The builder for the configuration: events, fixed number, fixed duration or custom frames."""
        if self.cfg.data_type == "event":
            return EventBuilder(self.cfg, self.raw_root)
        H, W = self.get_H_W()
        if self.cfg.frames_number is not None:
            return FrameFixedNumberBuilder(self.cfg, self.raw_root, H, W)
        if self.cfg.duration is not None:
            return FrameFixedDurationBuilder(self.cfg, self.raw_root, H, W)
        return FrameCustomIntegrateBuilder(self.cfg, self.raw_root, H, W)

    def get_root_when_train_is_none(self, _root: Path) -> Path:
        """The sample folder when ``train`` is None (default: the processed root itself)."""
        return _root

    @classmethod
    def get_extensions(cls) -> tuple[str, ...]:
        """Sample file extensions: ``('.npy', '.npz')``."""
        return (".npy", ".npz")

    @classmethod
    @abc.abstractmethod
    def get_H_W(cls) -> tuple[int, int]:
        """``(H, W)`` of the sensor."""

    @classmethod
    @abc.abstractmethod
    def resource_url_md5(cls) -> list[tuple[str, str, str | None]]:
        """``[(file name, url, md5), ...]`` of the published files."""

    @classmethod
    @abc.abstractmethod
    def downloadable(cls) -> bool:
        """Whether the files can be downloaded by code."""

    @classmethod
    @abc.abstractmethod
    def extract_downloaded_files(cls, download_root: Path, extract_root: Path) -> None:
        """Extract the downloaded files into ``extract_root``."""

    @classmethod
    @abc.abstractmethod
    def create_raw_from_extracted(cls, extract_root: Path, raw_root: Path) -> None:
        """Write the raw event files (``raw_root/[split/]<class>/<sample>.npz``)."""
