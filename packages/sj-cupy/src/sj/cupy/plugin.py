"""The sj plug-in module of sj-cupy (entry point ``cupy`` in group ``sj``).

Importing it imports neither CuPy nor NVRTC: the backend object is always registered, and when CuPy cannot run its
``availability()`` says exactly why (shown by ``sj backends``).
"""

from __future__ import annotations

from sj.backends.base import Backend
from sj.cupy.backend import CupyBackend
from sj.plugins.hookspecs import hookimpl


@hookimpl
def sj_backends() -> list[Backend]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_backends`): the ``'cupy'`` backend."""
    return [CupyBackend()]
