"""Conversion recipes (SpikingJelly 2.0's ``ann2snn.recipes``)."""

from sj.ann2snn.recipes.base import ConversionRecipe, FXConversionRecipe, ModuleConversionRecipe
from sj.ann2snn.recipes.local_threshold_balancing import LocalThresholdBalancingRecipe
from sj.ann2snn.recipes.qwen2 import (
    Qwen2SNNCalibration,
    Qwen2SNNConfig,
    Qwen2SNNModel,
    Qwen2SNNRecipe,
    calibrate_qwen2_snn,
)
from sj.ann2snn.recipes.rate_coding import RateCodingRecipe
from sj.ann2snn.recipes.spikezip_qann import SpikeZIPTFQANNRecipe
from sj.ann2snn.recipes.sta_transformer import STATransformerRecipe
from sj.ann2snn.recipes.time_folded import TimeFoldedRateCodingRecipe
from sj.ann2snn.recipes.transformer_td_equivalent import TransformerTDEquivalentRecipe

__all__ = ["ConversionRecipe", "FXConversionRecipe", "LocalThresholdBalancingRecipe", "ModuleConversionRecipe",
           "Qwen2SNNCalibration", "Qwen2SNNConfig", "Qwen2SNNModel", "Qwen2SNNRecipe", "RateCodingRecipe",
           "STATransformerRecipe", "SpikeZIPTFQANNRecipe", "TimeFoldedRateCodingRecipe",
           "TransformerTDEquivalentRecipe", "calibrate_qwen2_snn"]
