"""sj plug-in entry point (``[project.entry-points.sj] triton = "sj.triton.plugin"``): contributes the backend."""

from __future__ import annotations

from sj.backends.base import Backend
from sj.plugins.hookspecs import hookimpl
from sj.triton.backend import TritonBackend


@hookimpl
def sj_backends() -> list[Backend]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_backends`): the ``'triton'`` backend."""
    return [TritonBackend()]
