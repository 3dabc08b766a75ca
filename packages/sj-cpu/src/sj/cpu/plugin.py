"""Entry point of sj-cpu (group ``sj``): contributes the ``cpu`` backend."""

from __future__ import annotations

from sj.plugins.hookspecs import hookimpl


@hookimpl
def sj_backends() -> list:
    from sj.cpu.backend import CpuBackend

    return [CpuBackend()]
