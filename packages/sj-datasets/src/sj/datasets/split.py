"""Reproducible stratified train/test splits from the labels alone (no sample is read; SpikingJelly#208)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset, Subset


def _labels(dataset: Dataset) -> np.ndarray:
    targets = getattr(dataset, "targets", None)
    if targets is None:
        raise TypeError(f"{type(dataset).__name__} has no 'targets'; stratified splitting here never reads samples")
    return np.asarray(targets)


def stratified_indices(targets: Sequence[int] | np.ndarray, train_ratio: float, seed: int | None = 0
                       ) -> tuple[list[int], list[int]]:
    """Per class, the first ``floor(train_ratio * n_class)`` indices go to train, the rest to test. With ``seed``
    (default 0) each class is shuffled first by ``numpy.random.default_rng(seed)`` (same seed → same split); with
    ``seed=None`` dataset order is kept. Both lists are sorted."""
    if not 0.0 <= train_ratio <= 1.0:
        raise ValueError(f"train_ratio must lie in [0, 1], got {train_ratio}")
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed) if seed is not None else None
    train: list[int] = []
    test: list[int] = []
    for cls in np.unique(targets):
        idx = np.flatnonzero(targets == cls)
        if rng is not None:
            idx = rng.permutation(idx)
        k = int(train_ratio * idx.size)
        train.extend(idx[:k].tolist())
        test.extend(idx[k:].tolist())
    return sorted(train), sorted(test)


def stratified_split(dataset: Dataset, train_ratio: float, seed: int | None = 0) -> tuple[Subset, Subset]:
    """``(train, test)`` subsets of ``dataset`` by :func:`stratified_indices` over ``dataset.targets``."""
    train, test = stratified_indices(_labels(dataset), train_ratio, seed)
    return Subset(dataset, train), Subset(dataset, test)


def split_to_train_test_set(train_ratio: float, origin_dataset: Dataset, num_classes: int,
                            random_split: bool = False, seed: int | None = None) -> tuple[Subset, Subset]:
    """SpikingJelly 2.0's split, from ``origin_dataset.targets`` without reading any sample: per class ``c`` (in
    order ``0 .. num_classes-1``) its indices in dataset order, shuffled with ``numpy.random.shuffle`` when
    ``random_split`` (numpy's global generator, as SpikingJelly; ``seed`` = an int uses a private generator
    instead); the first ``ceil(train_ratio * n_c)`` go to train, the rest to test. Both index lists are
    concatenated class by class, as SpikingJelly returns them."""
    labels = _labels(origin_dataset)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels lie in [{labels.min()}, {labels.max()}], outside num_classes={num_classes}")
    per_class = [np.flatnonzero(labels == c).tolist() for c in range(num_classes)]
    shuffle = np.random.shuffle if seed is None else np.random.default_rng(seed).shuffle
    train: list[int] = []
    test: list[int] = []
    for indices in per_class:
        if random_split:
            shuffle(indices)
        k = math.ceil(len(indices) * train_ratio)
        train.extend(indices[:k])
        test.extend(indices[k:])
    return Subset(origin_dataset, train), Subset(origin_dataset, test)
