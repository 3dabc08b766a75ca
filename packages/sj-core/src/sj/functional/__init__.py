"""Functions over networks, sequences and spikes (SpikingJelly's ``activation_based.functional``).

- :mod:`~sj.functional.net`: reset, detach, step mode, backend of a whole network.
- :mod:`~sj.functional.forward`: run single-step or stateless modules over sequences.
- :mod:`~sj.functional.losses`, :mod:`~sj.functional.misc`, :mod:`~sj.functional.spikes`, :mod:`~sj.functional.init`,
  :mod:`~sj.functional.fuse`: losses, labels and margins, spike utilities, initialisation, conv-BN folding.
- :mod:`~sj.functional.plasticity`: stateless STDP / MSTDP / MSTDPET steps.
- :mod:`~sj.functional.layer_steps`: explicit state transitions of NeuNorm, Delay and SynapseFilter.
- :mod:`~sj.functional.packing`: spikes packed 8 per byte, Linear on packed or binary spikes.
- :mod:`~sj.functional.neuron_linear`: IF/LIF neurons followed by a Linear layer, with explicit state.
"""

from sj.functional.forward import (
    chunk_multi_step_forward,
    multi_step_forward,
    seq_to_ann_forward,
    t_last_multi_step_forward,
    t_last_seq_to_ann_forward,
)
from sj.functional.fuse import fuse_conv_bn
from sj.functional.init import kaiming_normal_conv_linear_weight
from sj.functional.layer_steps import delay_step, neunorm_step, synapse_filter_step
from sj.functional.losses import kernel_dot_product, spike_similar_loss, temporal_efficient_training_cross_entropy
from sj.functional.misc import delay, redundant_one_hot, set_threshold_margin
from sj.functional.net import (
    collect_reset_modules,
    detach_net,
    invalidate_reset_cache,
    reset_collected_modules,
    reset_net,
    set_backend,
    set_step_mode,
)
from sj.functional.neuron_linear import if_linear, lif_linear
from sj.functional.neuron_steps import *  # noqa: F403 (SpikingJelly's per-neuron step functions)
from sj.functional.neuron_steps import __all__ as _neuron_steps
from sj.functional.packing import (
    bit_pack_spike_dense,
    bit_spike_compress,
    bit_spike_decompress,
    packed_spike_linear,
    sparse_linear,
)
from sj.functional.plasticity import (
    mstdp_linear_step,
    mstdpet_linear_step,
    mstdpet_reward_step,
    stdp_conv1d_step,
    stdp_conv2d_step,
    stdp_linear_step,
)
from sj.functional.spikes import first_spike_index

__all__ = ["bit_pack_spike_dense", "bit_spike_compress", "bit_spike_decompress", "chunk_multi_step_forward",
           "collect_reset_modules", "delay", "delay_step", "detach_net", "first_spike_index", "fuse_conv_bn",
           "if_linear", "invalidate_reset_cache", "kaiming_normal_conv_linear_weight", "kernel_dot_product",
           "lif_linear", "mstdp_linear_step", "mstdpet_linear_step", "mstdpet_reward_step", "multi_step_forward",
           "neunorm_step", "packed_spike_linear", "redundant_one_hot", "reset_collected_modules", "reset_net",
           "seq_to_ann_forward", "set_backend", "set_step_mode", "set_threshold_margin", "sparse_linear",
           "spike_similar_loss", "stdp_conv1d_step", "stdp_conv2d_step", "stdp_linear_step", "synapse_filter_step",
           "t_last_multi_step_forward", "t_last_seq_to_ann_forward", "temporal_efficient_training_cross_entropy",
           *_neuron_steps]
