"""SpikingJelly-compatible dataset classes: same constructor arguments, so migrating code runs unchanged.

``DVS128Gesture(root, train=True, data_type='frame', frames_number=16, split_by='number')`` etc. Differences from
SpikingJelly: frame samples are float32 ``torch.Tensor`` (SpikingJelly: float32 numpy) and ``transform`` receives
the tensor; event samples are canonical structured arrays (indexable as ``ev['t']`` like SpikingJelly's dict); frames
are computed on first access and cached crash-safely instead of all up front (call ``.prepare()`` for that).
Extra keyword-only arguments: ``download``, ``cache_dir``, ``unsorted``, ``windows`` (see
:class:`~sj.datasets.dataset.NeuromorphicDataset`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sj.datasets.dataset import NeuromorphicDataset


class _SpikingJellyDataset(NeuromorphicDataset):
    """Base of the compatible classes: ``_spec_name`` names the dataset; ``_duration_unit_us`` converts
    SpikingJelly's ``duration`` unit to µs (1 for cameras; 1000 for SHD/SSC, whose SpikingJelly duration is in ms)."""

    _spec_name = ""
    _duration_unit_us = 1

    def __init__(self, root: str | Path, train: bool | None = None, data_type: str = "event",
                 frames_number: int | None = None, split_by: str | None = None, duration: int | None = None,
                 custom_integrate_function: Callable[..., np.ndarray] | None = None,
                 custom_integrated_frames_dir_name: str | None = None, transform: Callable[[Any], Any] | None = None,
                 target_transform: Callable[[int], Any] | None = None, **extra: Any) -> None:
        if duration is not None:
            duration = duration * self._duration_unit_us
        super().__init__(extra.pop("_name", self._spec_name), root, train, data_type=data_type,
                         frames_number=frames_number, split_by=split_by, duration=duration,
                         custom_integrate_function=custom_integrate_function,
                         custom_integrated_frames_dir_name=custom_integrated_frames_dir_name, transform=transform,
                         target_transform=target_transform, **extra)

    def _spikingjelly_folder_order(self, file_names: list[str]) -> None:
        """Label and order the samples as SpikingJelly 2.0 does where it stores them in folders named
        ``str(label)`` read by torchvision's ``DatasetFolder``: the label becomes the folder's place in *string*
        order (``'10'`` before ``'2'``), and samples are sorted by that label, then by SpikingJelly's file name
        (``file_names[i]`` for sample ``i``). Checkpoints trained with SpikingJelly then see the labels they
        learnt."""
        folders = sorted(str(i) for i in range(len(self.classes)))
        sj_label = [folders.index(str(ref.label)) for ref in self.samples]
        order = sorted(range(len(self.samples)), key=lambda i: (sj_label[i], file_names[i]))
        self.samples = [self.samples[i] for i in order]
        self.targets = [sj_label[i] for i in order]
        self.classes = tuple(self.classes[int(f)] for f in folders)


class DVS128Gesture(_SpikingJellyDataset):
    """DVS128 Gesture. ``source='aedat'`` (default): IBM's AEDAT 3.1 files cut like SpikingJelly (1176/288 samples),
    with SpikingJelly 2.0's labels and order (its ``train/<class - 1>/<trial>_<k>.npz`` folders: label = place of
    ``str(class - 1)`` in string order, so ``'10'`` is 2; ``classes`` lists the names in that order);
    ``source='tonic'``: tonic's preprocessed ``.npy`` release, labels ``0..10``."""

    def __init__(self, root: str | Path, train: bool | None = None, *args: Any, source: str = "aedat",
                 **kwargs: Any) -> None:
        names = {"aedat": "dvs128_gesture", "tonic": "dvs128_gesture_tonic"}
        if source not in names:
            raise ValueError(f"source must be 'aedat' or 'tonic', got {source!r}")
        super().__init__(root, train, *args, _name=names[source], **kwargs)
        if source == "aedat":
            seen: dict[tuple[Path, int], int] = {}
            file_names = []
            for ref in self.samples:  # per trial, the k-th sample of a class is <trial>_<k>.npz
                k = seen.get((ref.path, ref.label), 0)
                seen[(ref.path, ref.label)] = k + 1
                file_names.append(f"{ref.path.stem}_{k}.npz")
            self._spikingjelly_folder_order(file_names)


class _WithoutTrain(_SpikingJellyDataset):
    """A dataset SpikingJelly constructs without ``train``: ``(root, data_type, frames_number, …)``."""

    def __init__(self, root: str | Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(root, None, *args, **kwargs)


class CIFAR10DVS(_WithoutTrain):
    """CIFAR10-DVS (original AEDAT 2.0 recordings; no train/test division: use ``split_to_train_test_set`` or
    :class:`CIFAR10DVSTEBNSplit`)."""

    _spec_name = "cifar10_dvs"


class CIFAR10DVSTEBNSplit(_SpikingJellyDataset):
    """CIFAR10-DVS with TEBN's split: per class, recordings 100-999 train (``train=True``), 0-99 test."""

    _spec_name = "cifar10_dvs_tebn"


class NMNIST(_SpikingJellyDataset):
    """N-MNIST."""

    _spec_name = "nmnist"


class NCaltech101(_WithoutTrain):
    """N-Caltech101 (no train/test division)."""

    _spec_name = "ncaltech101"


class ASLDVS(_WithoutTrain):
    """ASL-DVS (no train/test division)."""

    _spec_name = "asl_dvs"


class DVSLip(_SpikingJellyDataset):
    """DVS-Lip."""

    _spec_name = "dvs_lip"


class POKERDVS(_SpikingJellyDataset):
    """POKER-DVS."""

    _spec_name = "poker_dvs"


class SpikingHeidelbergDigits(_SpikingJellyDataset):
    """SHD; frames are 1-D ``[T, 700]``; ``duration`` in ms as in SpikingJelly. Events carry the file's labels;
    frames carry SpikingJelly 2.0's (its ``<label>/<row>.npz`` folders in string order: ``'10'`` is 2), in its
    order."""

    _spec_name = "shd"
    _duration_unit_us = 1000

    def __init__(self, root: str | Path, train: bool | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(root, train, *args, **kwargs)
        if self.data_type == "frame":
            self._spikingjelly_folder_order([f"{ref.row}.npz" for ref in self.samples])


class SpikingSpeechCommands(SpikingHeidelbergDigits):
    """SSC with SpikingJelly's ``split='train'|'valid'|'test'`` argument; ``duration`` in ms; labels as
    :class:`SpikingHeidelbergDigits`."""

    _spec_name = "ssc"

    def __init__(self, root: str | Path, split: str = "train", *args: Any, **kwargs: Any) -> None:
        super().__init__(root, None, *args, split=split, **kwargs)


class HARDVS(_SpikingJellyDataset):
    """HARDVS (MINI release) with SpikingJelly's ``train_test_val`` argument (``'train'``, ``'val'``, ``'test'``)."""

    _spec_name = "hardvs"

    def __init__(self, root: str | Path, train_test_val: str | None = None, *args: Any, **kwargs: Any) -> None:
        if train_test_val is None:
            raise ValueError("train_test_val must be 'train', 'val' or 'test'")
        super().__init__(root, None, *args, split=train_test_val, **kwargs)


class ESImageNet(_SpikingJellyDataset):
    """ES-ImageNet 0.18 (extract its RAR parts yourself)."""

    _spec_name = "es_imagenet"


class NAVGestureWalk(_WithoutTrain):
    """NAVGesture-walk (no train/test division)."""

    _spec_name = "nav_gesture_walk"


class NAVGestureSit(_WithoutTrain):
    """NAVGesture-sit (no train/test division)."""

    _spec_name = "nav_gesture_sit"


class Bullying10kClassification(_SpikingJellyDataset):
    """Bullying10K classification with SpikingJelly's split (every fifth file is a test sample)."""

    _spec_name = "bullying10k"
