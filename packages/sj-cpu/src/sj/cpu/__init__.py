"""sj-cpu: fused multi-step CPU kernels for sj, generated from the neuron and surrogate declarations.

Installing the package registers the ``cpu`` backend (``sj.ops.multistep(..., backend="cpu")``; ``sj backends``
shows its status). :func:`empty_cache` and :func:`pool_stats` manage the output-buffer pool
(:mod:`sj.cpu.pool`).
"""

from __future__ import annotations


def _backend():
    from sj.backends.registry import get_backend

    return get_backend("cpu")


def empty_cache() -> None:
    """Release the idle output buffers the ``cpu`` backend keeps for reuse (buffers in use are not affected)."""
    _backend().pool.clear()


def pool_stats():
    """Counters of the ``cpu`` backend's buffer pool (:class:`sj.cpu.pool.PoolStats`)."""
    return _backend().pool.stats()


__all__ = ["empty_cache", "pool_stats"]
