"""Memory-efficient training: checkpointing with spike compression and an automatic search under the memory it saves
(SpikingJelly 2.0's ``activation_based.memopt``; docs: ``docs/memopt.md``)."""

from sj.memopt.checkpointing import checkpoint, checkpoint_module
from sj.memopt.compress import (
    BitSpikeCompressor,
    BooleanSpikeCompressor,
    SparseSpikeCompressor,
    SpikeCompressor,
    Uint8SpikeCompressor,
)
from sj.memopt.pipeline import optimize_memory

__all__ = ["BitSpikeCompressor", "BooleanSpikeCompressor", "SparseSpikeCompressor", "SpikeCompressor",
           "Uint8SpikeCompressor", "checkpoint", "checkpoint_module", "optimize_memory"]
