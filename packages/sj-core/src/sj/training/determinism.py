"""Deterministic mode: same seed → identical spikes, losses and gradients across runs.

On CPU, sj's ops are deterministic for a fixed number of threads (``torch.get_num_threads()``); what varies between
runs is the random state (initialisation, data order, dropout, Poisson encoding), which :func:`seed_everything` fixes.
:func:`deterministic_mode` additionally makes torch refuse (or warn about) non-deterministic kernels on GPUs.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_CUBLAS = "CUBLAS_WORKSPACE_CONFIG"


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator (if installed) and torch on every device."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed_everything: seed must be an int in [0, 2**32), got {seed!r}")
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:  # numpy is optional here
        return
    np.random.seed(seed)


@contextmanager
def deterministic_mode(seed: int | None = None, *, warn_only: bool = False) -> Iterator[None]:
    """Within the block, torch uses deterministic algorithms only and cuDNN does not benchmark; restored on exit.

    Args:
        seed: if given, :func:`seed_everything` is called on entry.
        warn_only: warn instead of raising when an operation has no deterministic implementation.

    Sets ``torch.use_deterministic_algorithms(True)``, ``torch.backends.cudnn.deterministic = True``,
    ``torch.backends.cudnn.benchmark = False`` and, if unset, ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (needed by cuBLAS
    on CUDA ≥ 10.2). Results are reproducible on the same hardware, software versions and thread count.
    """
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark, os.environ.get(_CUBLAS))
    os.environ.setdefault(_CUBLAS, ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        if seed is not None:
            seed_everything(seed)
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]
        if saved[4] is None:
            os.environ.pop(_CUBLAS, None)
        else:
            os.environ[_CUBLAS] = saved[4]
