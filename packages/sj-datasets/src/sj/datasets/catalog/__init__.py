"""All dataset specifications, by name. Importing this is cheap (tonic is imported only when needed)."""

from __future__ import annotations

from sj.datasets.catalog.atis import NCALTECH101, NMNIST
from sj.datasets.catalog.bullying10k import BULLYING10K
from sj.datasets.catalog.es_imagenet import ES_IMAGENET
from sj.datasets.catalog.folders import ASL_DVS, CIFAR10_DVS, CIFAR10_DVS_TEBN, DVS_LIP, POKER_DVS
from sj.datasets.catalog.gesture import DVS128_GESTURE, DVS128_GESTURE_TONIC
from sj.datasets.catalog.hardvs import HARDVS
from sj.datasets.catalog.hsd import SHD, SSC
from sj.datasets.catalog.nav_gesture import NAV_GESTURE_SIT, NAV_GESTURE_WALK
from sj.datasets.spec import DatasetSpec

#: Every catalogued dataset: name → :class:`DatasetSpec` (files, checksums, reader, splits).
SPECS: dict[str, DatasetSpec] = {s.name: s for s in (
    DVS128_GESTURE, DVS128_GESTURE_TONIC, CIFAR10_DVS, CIFAR10_DVS_TEBN, NMNIST, NCALTECH101, SHD, SSC, ASL_DVS,
    DVS_LIP, POKER_DVS, HARDVS, ES_IMAGENET, NAV_GESTURE_WALK, NAV_GESTURE_SIT, BULLYING10K)}


def get_spec(name: str) -> DatasetSpec:
    """The spec called ``name`` (``-`` and ``_`` are interchangeable, case-insensitive)."""
    key = name.lower().replace("-", "_")
    if key not in SPECS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(SPECS)}")
    return SPECS[key]
