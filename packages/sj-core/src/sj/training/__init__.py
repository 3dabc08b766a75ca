"""Training at scale and under faults (docs: ``docs/training.md``).

- :class:`TimeCheckpoint`: memory-bounded BPTT, recomputing segments of time in backward.
- :func:`compress_spikes`: binary tensors saved for backward (spikes) stored as bits or bools.
- :class:`PeakMemory`: peak tensor memory of a block of code on any device (CPU included).
- :func:`save_checkpoint` / :func:`load_checkpoint`: bit-exact mid-epoch resume (model, optimizer, random state).
- :func:`seed_everything` / :func:`deterministic_mode`: reproducible runs.
"""

from sj.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from sj.training.determinism import deterministic_mode, seed_everything
from sj.training.memory import PeakMemory
from sj.training.spike_save import PackedSpikes, compress_spikes, is_binary, spike_hooks
from sj.training.time_checkpoint import TimeCheckpoint

__all__ = ["PackedSpikes", "PeakMemory", "TimeCheckpoint", "compress_spikes", "deterministic_mode", "is_binary",
           "load_checkpoint", "rng_state", "save_checkpoint", "seed_everything", "set_rng_state",
           "spike_hooks"]
