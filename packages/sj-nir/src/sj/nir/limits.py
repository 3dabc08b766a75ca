"""Size limits that sj-nir checks against *declared* sizes before reading or allocating anything.

A NIR file is HDF5: a 40 KB file can declare a compressed (or never written, fill-value) dataset of terabytes, a
``Delay`` of 10¹² steps, or an Input of 10¹² neurons. Each is refused with :class:`~sj.nir.errors.NIRLimitError`
naming the object and the limit, before the allocation. Raise a limit by passing ``limits=Limits(...)`` to
:func:`sj.nir.read` / :func:`sj.nir.load`, or ``--max-bytes`` / ``--max-elements`` / ``--max-nodes`` to ``sj nir``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sj.nir.errors import NIRLimitError, NIRParameterError


@dataclass(frozen=True)
class Limits:
    """What a NIR file or graph may declare.

    Attributes:
        max_bytes: total bytes of all arrays a file declares (HDF5 datasets and attributes, summed over the file,
            counting the golden record's image and its contents). Default 1 GiB.
        max_elements: elements per sample of any one node's activity or state: an Input's shape, a node's declared
            input/output shape, a convolution's output, a Delay's buffer (``(delay steps + 1) · elements``).
            Multiply by the batch (and T) for the memory of a run. Default 2²⁶ (256 MiB in float32).
        max_nodes: nodes and HDF5 objects of a graph, counting those inside subgraphs. Default 100 000.
        max_depth: nesting depth of subgraphs (and of HDF5 groups, four per level). Default 32.
    """

    max_bytes: int = 1 << 30
    max_elements: int = 1 << 26
    max_nodes: int = 100_000
    max_depth: int = 32

    def __post_init__(self) -> None:
        for field in ("max_bytes", "max_elements", "max_nodes", "max_depth"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise NIRParameterError(f"Limits.{field} must be a positive int, got {value!r}")

    def elements(self, count: int, what: str) -> None:
        """Refuse ``count`` elements of ``what`` (a phrase naming the node) above ``max_elements``."""
        if count > self.max_elements:
            raise NIRLimitError(f"{what}: {count:.4g} elements per sample exceed Limits.max_elements = "
                                f"{self.max_elements} (raise it with limits=Limits(max_elements=...) or "
                                "--max-elements if you trust this file)")


#: The limits every reader applies unless given ``limits=``: :class:`Limits` with its defaults (1 GiB of declared
#: arrays, 2²⁶ elements per node and sample, 100 000 nodes, subgraph depth 32).
DEFAULT_LIMITS = Limits()


def declared_shape(node: object, key: str, what: str) -> tuple[int, ...] | None:
    """The shape a NIR node declares in ``input_type``/``output_type`` (one entry), validated as whole numbers ≥ 0;
    ``None`` when it declares none."""
    t = getattr(node, key, None) or {}
    v = next(iter(t.values()), None) if isinstance(t, dict) and len(t) == 1 else None
    if v is None:
        return None
    dims = np.asarray(v).reshape(-1)
    if dims.dtype.kind not in "biuf":
        raise NIRParameterError(f"{what} {key}: shape {dims.tolist()} is not numeric")
    shape_size(dims, f"{what} {key}")
    return tuple(int(d) for d in dims)


def check_declared_shapes(node: object, what: str, limits: Limits) -> None:
    """Refuse a node's declared ``input_type`` then ``output_type`` shape (``what`` names the node) when it is not
    whole numbers ≥ 0 (:class:`~sj.nir.errors.NIRParameterError`) or exceeds ``limits.max_elements``
    (:class:`~sj.nir.errors.NIRLimitError`)."""
    for key in ("input_type", "output_type"):
        shape = declared_shape(node, key, what)
        if shape is not None:
            limits.elements(shape_size(shape, what), f"{what} {key} {list(shape)}")


def shape_size(shape: Iterable, what: str) -> int:
    """The number of elements of a declared shape (non-negative whole numbers), as an exact Python int."""
    dims = []
    for d in shape:
        f = float(d)
        if not (math.isfinite(f) and f >= 0 and f == int(f)):
            raise NIRParameterError(f"{what}: shape {np.asarray(shape).tolist()} has a dimension that is not a "
                                    "whole number ≥ 0")
        dims.append(int(f))
    return math.prod(dims)
