"""NIR export and import for sj that carries semantics: dt, integration scheme, reset mode, threshold comparison.

- :func:`export` (sj network → ``nir.NIRGraph``, optionally written to a file) records what the graph means in
  ``graph.metadata`` (see :mod:`sj.nir.conventions`).
- :func:`load` (graph or file → :class:`~sj.nir.network.NIRNet`, runnable in ``'s'`` and ``'m'`` step modes) honours
  that metadata, or a producer profile (``'snntorch'``, ``'norse'``, ``'spikingjelly'``, ``'sinabs'``).
- :mod:`sj.nir.golden` stores recorded outputs (``nir.data_ir``) in the graph file, so a file carries its expected
  behaviour; ``sj nir run FILE`` checks it.

The exact mapping is documented in docs/nir.md.
"""

from sj.nir.conventions import PROFILES, Conventions, guess_profile
from sj.nir.errors import NIRError, NIRSemanticsWarning
from sj.nir.exporter import export
from sj.nir.importer import load, read
from sj.nir.network import NIRNet
from sj.nir.neurons import NIRCubaLIFNode, NIRIFNode, NIRLIFNode

__all__ = ["PROFILES", "Conventions", "NIRCubaLIFNode", "NIRError", "NIRIFNode", "NIRLIFNode", "NIRNet",
           "NIRSemanticsWarning", "export", "guess_profile", "load", "read"]
