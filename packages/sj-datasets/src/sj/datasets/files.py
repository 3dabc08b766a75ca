"""SpikingJelly 2.0's file-to-file helpers: integrate an event file into a frame file, mirror a folder tree, build
a sub-dataset. Frame files are written atomically (see :func:`sj.datasets.loaders.np_savez`)."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sj.datasets.integrate import integrate_events_by_fixed_duration, integrate_events_by_fixed_frames_number
from sj.datasets.loaders import np_savez

log = logging.getLogger("sj.datasets")


def integrate_events_file_to_frames_file_by_fixed_frames_number(
        loader: Callable[[str], object], events_np_file: str | Path, output_dir: str | Path, split_by: str,
        frames_num: int, H: int, W: int, print_save: bool = False) -> None:
    """Write ``output_dir/<name of events_np_file>`` holding ``frames`` ``[frames_num, 2, H, W]`` (float64) of the
    events ``loader(events_np_file)`` (SpikingJelly's function; see
    :func:`~sj.datasets.integrate.integrate_events_by_fixed_frames_number`)."""
    name = Path(output_dir) / os.path.basename(events_np_file)
    np_savez(name, frames=integrate_events_by_fixed_frames_number(loader(events_np_file), split_by, frames_num, H, W))
    if print_save:
        log.debug("Frames [%s] saved.", name)


def integrate_events_file_to_frames_file_by_fixed_duration(
        loader: Callable[[str], object], events_np_file: str | Path, output_dir: str | Path, duration: int, H: int,
        W: int, print_save: bool = False) -> int:
    """Write ``output_dir/<stem>_<T>.npz`` holding ``frames`` ``[T, 2, H, W]`` of the events
    ``loader(events_np_file)`` in windows of ``duration`` (SpikingJelly 2.0's grid rule); returns ``T``."""
    frames = integrate_events_by_fixed_duration(loader(events_np_file), duration, H, W)
    stem = os.path.splitext(os.path.basename(events_np_file))[0]
    name = Path(output_dir) / f"{stem}_{frames.shape[0]}.npz"
    np_savez(name, frames=frames)
    if print_save:
        log.debug("Frames [%s] saved.", name)
    return frames.shape[0]


def create_same_directory_structure(source_dir: str | Path, target_dir: str | Path) -> None:
    """Create in ``target_dir`` every sub-folder of ``source_dir``, recursively (SpikingJelly's function: an existing
    target folder raises ``FileExistsError``). Linked folders are followed once; a link cycle is not."""
    _mirror(Path(source_dir), Path(target_dir), frozenset())


def _mirror(source: Path, target: Path, seen: frozenset[str]) -> None:
    seen = seen | {os.path.realpath(source)}
    for name in os.listdir(source):
        sub = source / name
        if sub.is_dir() and os.path.realpath(sub) not in seen:
            (target / name).mkdir()
            log.debug("Mkdir [%s].", target / name)
            _mirror(sub, target / name, seen)


def create_sub_dataset(source_dir: str | Path, target_dir: str | Path, ratio: float, use_soft_link: bool = True,
                       randomly: bool = False) -> None:
    """Copy (or link, ``use_soft_link``) a ``ratio`` of the files of every folder of ``source_dir`` into the same
    structure under ``target_dir`` (SpikingJelly's function: per folder the first ``int(ratio * n)`` files in
    ``os.walk`` order, all of them when ``ratio >= 1``, after ``numpy.random.shuffle`` when ``randomly``).

    sj's datasets read only files inside their root: links made here point into ``source_dir``, so a linked
    sub-dataset is read from a root that contains both, or made with ``use_soft_link=False``."""
    source_dir, target_dir = str(source_dir), str(target_dir)
    if not os.path.exists(target_dir):
        os.makedirs(target_dir)
    create_same_directory_structure(source_dir, target_dir)
    for e_root, _, e_files in os.walk(source_dir, followlinks=True):
        if not e_files:
            continue
        output_dir = os.path.join(target_dir, os.path.relpath(e_root, source_dir))
        count = len(e_files) if ratio >= 1.0 else int(ratio * len(e_files))
        if count == 0:
            log.warning("No samples selected from [%s] for output [%s].", e_root, output_dir)
        if randomly:
            np.random.shuffle(e_files)
        for e_file in e_files[:count]:
            source_file = os.path.join(e_root, e_file)
            target_file = os.path.join(output_dir, e_file)
            if use_soft_link:
                os.symlink(source_file, target_file)
            else:
                shutil.copyfile(source_file, target_file)
