"""Memory-efficient training: checkpointing with spike compression and an automatic search under the memory it saves
(SpikingJelly 2.0's ``activation_based.memopt``; docs: ``docs/memopt.md``).

Names load on first use (:func:`sj.plugins.lazy.lazy_exports`): ``sj.training``'s time checkpointing imports the
chunked checkpoint of :mod:`sj.memopt.checkpointing` without paying for the search (and torch.distributed's wrapper).
"""

from sj.plugins.lazy import lazy_exports

lazy_exports(globals(), {
    **dict.fromkeys(("checkpoint", "checkpoint_module"), "sj.memopt.checkpointing"),
    **dict.fromkeys(("BitSpikeCompressor", "BooleanSpikeCompressor", "SparseSpikeCompressor", "SpikeCompressor",
                     "Uint8SpikeCompressor"), "sj.memopt.compress"),
    "optimize_memory": "sj.memopt.pipeline",
})
