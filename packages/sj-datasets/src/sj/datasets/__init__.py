"""sj-datasets: neuromorphic datasets on tonic, SpikingJelly-compatible frames, a crash-safe resumable cache.

Names are imported lazily (PEP 562), so ``import sj.datasets`` and the ``sj`` plug-in stay cheap; torch is imported
only with the Dataset classes, tonic only by readers and downloads that need it. License: GPL-3.0-or-later.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EVENT_DTYPE": "sj.datasets.events",
    "make_events": "sj.datasets.events",
    "ensure_time_order": "sj.datasets.events",
    "cal_fixed_frames_number_segment_index": "sj.datasets.integrate",
    "integrate_events_segment_to_frame": "sj.datasets.integrate",
    "integrate_events_by_fixed_frames_number": "sj.datasets.integrate",
    "integrate_events_by_fixed_duration": "sj.datasets.integrate",
    "integrate_events_by_fixed_frames_number_1d": "sj.datasets.integrate",
    "integrate_events_by_fixed_duration_1d": "sj.datasets.integrate",
    "integrate_events_by_fixed_frames_number_shd": "sj.datasets.integrate",
    "integrate_events_by_fixed_duration_shd": "sj.datasets.integrate",
    "FrameParams": "sj.datasets.params",
    "NeuromorphicDataset": "sj.datasets.dataset",
    "DVS128Gesture": "sj.datasets.compat",
    "CIFAR10DVS": "sj.datasets.compat",
    "NMNIST": "sj.datasets.compat",
    "NCaltech101": "sj.datasets.compat",
    "ASLDVS": "sj.datasets.compat",
    "DVSLip": "sj.datasets.compat",
    "POKERDVS": "sj.datasets.compat",
    "SpikingHeidelbergDigits": "sj.datasets.compat",
    "SpikingSpeechCommands": "sj.datasets.compat",
    "CIFAR10DVSTEBNSplit": "sj.datasets.compat",
    "HARDVS": "sj.datasets.compat",
    "ESImageNet": "sj.datasets.compat",
    "NAVGestureWalk": "sj.datasets.compat",
    "NAVGestureSit": "sj.datasets.compat",
    "Bullying10kClassification": "sj.datasets.compat",
    "CIFAR10DVS_CLASS_NAMES": "sj.datasets.catalog.folders",
    "BULLYING10K_CATEGORY_LABEL": "sj.datasets.catalog.bullying10k",
    "SHD_N_CLASSES": "sj.datasets.catalog.hsd",
    "SSC_N_CLASSES": "sj.datasets.catalog.hsd",
    "SpeechCommands": "sj.datasets.speechcommands",
    "SPEECHCOMMANDS": "sj.datasets.speechcommands",
    "NeuromorphicDatasetConfig": "sj.datasets.folder",
    "NeuromorphicDatasetBuilder": "sj.datasets.folder",
    "NeuromorphicDatasetFolder": "sj.datasets.folder",
    "EventBuilder": "sj.datasets.folder",
    "FrameFixedNumberBuilder": "sj.datasets.folder",
    "FrameFixedDurationBuilder": "sj.datasets.folder",
    "FrameCustomIntegrateBuilder": "sj.datasets.folder",
    "RandomTemporalDelete": "sj.datasets.transforms",
    "random_temporal_delete": "sj.datasets.transforms",
    "load_aedat_v3": "sj.datasets.loaders",
    "load_ATIS_bin": "sj.datasets.loaders",
    "load_npz_frames": "sj.datasets.loaders",
    "np_savez": "sj.datasets.loaders",
    "integrate_events_file_to_frames_file_by_fixed_duration": "sj.datasets.files",
    "integrate_events_file_to_frames_file_by_fixed_frames_number": "sj.datasets.files",
    "create_same_directory_structure": "sj.datasets.files",
    "create_sub_dataset": "sj.datasets.files",
    "play_frame": "sj.datasets.visualize",
    "save_as_pic": "sj.datasets.visualize",
    "pad_sequence_collate": "sj.datasets.collate",
    "padded_sequence_mask": "sj.datasets.collate",
    "stratified_split": "sj.datasets.split",
    "stratified_indices": "sj.datasets.split",
    "split_to_train_test_set": "sj.datasets.split",
    "prepare": "sj.datasets.prepare",
    "verify": "sj.datasets.verify",
    "get_spec": "sj.datasets.catalog",
    "SPECS": "sj.datasets.catalog",
    "DatasetFormatError": "sj.datasets.errors",
    "ChecksumError": "sj.datasets.errors",
    "DatasetNotFoundError": "sj.datasets.errors",
    "CacheWriteError": "sj.datasets.errors",
    "UnsafePathError": "sj.datasets.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sj.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
