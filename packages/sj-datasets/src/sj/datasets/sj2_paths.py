"""SpikingJelly's module paths under ``spikingjelly.datasets`` (``utils``, ``dvs128_gesture``, ``base``, ...), so that
``from spikingjelly.datasets.utils import pad_sequence_collate`` migrates by its import path alone.

Each such module of sj-datasets is two lines that call :func:`reexport`: it exports, lazily, the public names of
SpikingJelly 2.0's module of that name, which sj keeps in :mod:`sj.datasets`.
"""

from __future__ import annotations

from typing import Any

from sj.plugins.lazy import lazy_exports

# SpikingJelly 2.0's module → its public names (its ``__all__``).
SJ2_MODULES: dict[str, tuple[str, ...]] = {
    "asl_dvs": ("ASLDVS",),
    "base": ("NeuromorphicDatasetFolder", "NeuromorphicDatasetBuilder", "EventBuilder", "FrameFixedNumberBuilder",
             "FrameFixedDurationBuilder", "FrameCustomIntegrateBuilder", "NeuromorphicDatasetConfig"),
    "bullying10k": ("BULLYING10K_CATEGORY_LABEL", "Bullying10kClassification"),
    "cifar10_dvs": ("CIFAR10DVS_CLASS_NAMES", "CIFAR10DVS", "CIFAR10DVSTEBNSplit"),
    "dvs128_gesture": ("DVS128Gesture",),
    "dvs_lip": ("DVSLip",),
    "es_imagenet": ("ESImageNet",),
    "hardvs": ("HARDVS",),
    "n_caltech101": ("NCaltech101",),
    "n_mnist": ("NMNIST",),
    "nav_gesture": ("NAVGestureWalk", "NAVGestureSit"),
    "shd": ("SHD_N_CLASSES", "SpikingHeidelbergDigits", "SSC_N_CLASSES", "SpikingSpeechCommands"),
    "transform": ("random_temporal_delete", "RandomTemporalDelete"),
    "utils": ("np_savez", "save_as_pic", "play_frame", "load_aedat_v3", "load_ATIS_bin", "load_npz_frames",
              "integrate_events_segment_to_frame", "cal_fixed_frames_number_segment_index",
              "integrate_events_by_fixed_frames_number", "integrate_events_file_to_frames_file_by_fixed_frames_number",
              "integrate_events_by_fixed_duration", "integrate_events_file_to_frames_file_by_fixed_duration",
              "create_same_directory_structure", "split_to_train_test_set", "pad_sequence_collate",
              "padded_sequence_mask", "create_sub_dataset"),
}


def reexport(namespace: dict[str, Any]) -> None:
    """Make the module whose globals are ``namespace`` (``sj.datasets.<name>``) export SpikingJelly's names of
    ``spikingjelly.datasets.<name>`` from the sj modules that define them."""
    from sj.datasets import _EXPORTS

    short = namespace["__name__"].rpartition(".")[2]
    lazy_exports(namespace, {name: _EXPORTS[name] for name in SJ2_MODULES[short]})
