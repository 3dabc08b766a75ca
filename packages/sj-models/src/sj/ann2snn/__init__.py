"""ANN → SNN conversion by rate coding (SpikingJelly's ``ann2snn``).

A trained ReLU network becomes a network of IF neurons (soft reset) whose firing rates approximate the ReLU
activations, each scaled by a factor λ calibrated on data (max / percentile normalisation, optionally per channel).
The result runs time-first sequences ``[T, N, *]`` through the fused multi-step op, so every backend applies.

Example::

    from sj.ann2snn import Converter
    snn = Converter(mode="max")(trained_ann, calibration_loader)
    rates = snn.run_static(x_test, T=64).mean(0)  # ≈ trained_ann(x_test)
"""

from sj.ann2snn.converter import Converter
from sj.ann2snn.evaluate import accuracy_over_time
from sj.ann2snn.graph import UnsupportedOperationError, fuse_conv_bn_graph, fuse_conv_bn_model, trace
from sj.ann2snn.modules import ConvertedSNN, SpikingReLU, TimeFoldedNeuron, VoltageScaler
from sj.ann2snn.observer import ActivationObserver

__all__ = ["ActivationObserver", "ConvertedSNN", "Converter", "SpikingReLU", "TimeFoldedNeuron",
           "UnsupportedOperationError", "VoltageScaler", "accuracy_over_time", "fuse_conv_bn_graph",
           "fuse_conv_bn_model", "trace"]
