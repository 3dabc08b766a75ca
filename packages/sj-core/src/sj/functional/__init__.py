"""Functions over whole networks: reset, step mode, backend, detach, and sequence helpers.

Later additions (losses, conversions) live in their own modules of this package.
"""

from sj.functional.fuse import fuse_conv_bn
from sj.functional.init import kaiming_normal_conv_linear_weight
from sj.functional.losses import kernel_dot_product, spike_similar_loss, temporal_efficient_training_cross_entropy
from sj.functional.net import (
    detach_net,
    multi_step_forward,
    reset_net,
    seq_to_ann_forward,
    set_backend,
    set_step_mode,
)
from sj.functional.neuron_steps import *  # noqa: F403 (SpikingJelly's per-neuron step functions)
from sj.functional.neuron_steps import __all__ as _neuron_steps
from sj.functional.spikes import first_spike_index

__all__ = ["detach_net", "first_spike_index", "fuse_conv_bn", "kaiming_normal_conv_linear_weight",
           "kernel_dot_product", "multi_step_forward", "reset_net", "seq_to_ann_forward", "set_backend",
           "set_step_mode", "spike_similar_loss", "temporal_efficient_training_cross_entropy", *_neuron_steps]
