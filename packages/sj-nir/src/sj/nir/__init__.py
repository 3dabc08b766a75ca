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

from sj.plugins.lazy import lazy_exports

# Imported on first access (PEP 562): the plug-in registry imports this package to reach sj.nir.plugin, and nir and
# h5py must not weigh on every first use of a backend.
lazy_exports(globals(), {
    **dict.fromkeys(("PROFILES", "Conventions", "guess_profile"), "sj.nir.conventions"),
    **dict.fromkeys(("NIRError", "NIRFileError", "NIRGraphError", "NIRLimitError", "NIRParameterError",
                     "NIRSemanticsWarning", "NIRUnsafeFileError", "NIRUnsupportedError"), "sj.nir.errors"),
    "export": "sj.nir.exporter",
    "load": "sj.nir.importer",
    "read": "sj.nir.importer",
    "DEFAULT_LIMITS": "sj.nir.limits",
    "Limits": "sj.nir.limits",
    "NIRNet": "sj.nir.network",
    **dict.fromkeys(("NIRCubaLIFNode", "NIRIFNode", "NIRLIFNode"), "sj.nir.neurons"),
})
