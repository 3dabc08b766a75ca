"""NIR export and import for sj that carries semantics: dt, integration scheme, reset mode, threshold comparison.

- :func:`export` (sj network → ``nir.NIRGraph``, optionally written to a file) records what the graph means in
  ``graph.metadata`` (see :mod:`sj.nir.conventions`).
- :func:`load` (graph or file → :class:`~sj.nir.network.NIRNet`, runnable in ``'s'`` and ``'m'`` step modes) honours
  that metadata, or a producer profile (``'snntorch'``, ``'norse'``, ``'spikingjelly'``, ``'sinabs'``).
- :mod:`sj.nir.golden` stores recorded outputs (``nir.data_ir``) in the graph file, so a file carries its expected
  behaviour; ``sj nir run FILE`` checks it.
- Files are untrusted: :func:`read` refuses external data (HDF5 external storage, virtual datasets, links) and checks
  declared sizes against :class:`Limits` before reading anything (:mod:`sj.nir.hdf5`).

The exact mapping is documented in docs/nir.md.
"""

from sj.nir.conventions import PROFILES, Conventions, guess_profile
from sj.nir.errors import (
                           NIRError,
                           NIRFileError,
                           NIRGraphError,
                           NIRLimitError,
                           NIRParameterError,
                           NIRSemanticsWarning,
                           NIRUnsafeFileError,
                           NIRUnsupportedError,
)
from sj.nir.exporter import export
from sj.nir.importer import load, read
from sj.nir.limits import DEFAULT_LIMITS, Limits
from sj.nir.network import NIRNet
from sj.nir.neurons import NIRCubaLIFNode, NIRIFNode, NIRLIFNode

__all__ = ["DEFAULT_LIMITS", "PROFILES", "Conventions", "Limits", "NIRCubaLIFNode", "NIRError", "NIRFileError",
           "NIRGraphError", "NIRIFNode", "NIRLIFNode", "NIRLimitError", "NIRNet", "NIRParameterError",
           "NIRSemanticsWarning", "NIRUnsafeFileError", "NIRUnsupportedError", "export", "guess_profile", "load",
           "read"]
