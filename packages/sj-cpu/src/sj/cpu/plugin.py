"""Entry point of sj-cpu (group ``sj``): contributes the ``cpu`` backend."""

from __future__ import annotations

from sj.plugins.hookspecs import hookimpl


@hookimpl
def sj_backends() -> list:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_backends`): the ``'cpu'`` backend."""
    from sj.cpu.backend import CpuBackend

    return [CpuBackend()]
