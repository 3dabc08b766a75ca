"""ANN → SNN conversion (SpikingJelly 2.0's ``ann2snn``).

SpikingJelly's API: ``Converter(recipe=RateCodingRecipe(dataloader=...)).convert(ann)`` (``Converter`` is
:class:`FXConverter`; :class:`ModuleConverter` runs module-tree recipes), the recipe base classes, the scalers and
helpers. sj's time-folded rate coding keeps its call: ``Converter(mode="99.9%")(ann, dataloader)`` returns a
:class:`ConvertedSNN` taking ``[T, N, *]``.

Example::

    from sj.ann2snn import Converter, RateCodingRecipe
    snn = Converter(recipe=RateCodingRecipe(dataloader=train_loader, mode="99.9%")).convert(trained_ann)
"""

from sj.ann2snn import sample_models
from sj.ann2snn.converter import Converter, FXConverter, ModuleConverter
from sj.ann2snn.delay import estimate_delay_start
from sj.ann2snn.evaluate import accuracy_over_time
from sj.ann2snn.graph import UnsupportedOperationError, fuse_conv_bn_graph, fuse_conv_bn_model, trace
from sj.ann2snn.modules import ChannelVoltageScaler, ConvertedSNN, SpikingActivation, SpikingReLU, VoltageScaler
from sj.ann2snn.observer import ActivationObserver
from sj.ann2snn.qcfs import SignedQCFSSequenceEncoder
from sj.ann2snn.recipes import (
    ConversionRecipe,
    FXConversionRecipe,
    LocalThresholdBalancingRecipe,
    ModuleConversionRecipe,
    Qwen2SNNCalibration,
    Qwen2SNNConfig,
    Qwen2SNNModel,
    Qwen2SNNRecipe,
    RateCodingRecipe,
    SpikeZIPTFQANNRecipe,
    STATransformerRecipe,
    TimeFoldedRateCodingRecipe,
    TransformerTDEquivalentRecipe,
    calibrate_qwen2_snn,
)
from sj.ann2snn.utils import download_url

__all__ = ["ActivationObserver", "ChannelVoltageScaler", "ConversionRecipe", "ConvertedSNN", "Converter",
           "FXConversionRecipe", "FXConverter", "LocalThresholdBalancingRecipe", "ModuleConversionRecipe",
           "ModuleConverter", "Qwen2SNNCalibration", "Qwen2SNNConfig", "Qwen2SNNModel", "Qwen2SNNRecipe",
           "RateCodingRecipe", "STATransformerRecipe", "SignedQCFSSequenceEncoder", "SpikeZIPTFQANNRecipe",
           "SpikingActivation", "SpikingReLU", "TimeFoldedRateCodingRecipe", "TransformerTDEquivalentRecipe",
           "UnsupportedOperationError", "VoltageScaler", "accuracy_over_time", "calibrate_qwen2_snn", "download_url",
           "estimate_delay_start", "fuse_conv_bn_graph", "fuse_conv_bn_model", "sample_models", "trace"]
