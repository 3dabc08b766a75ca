"""Layers and containers with step modes (SpikingJelly-compatible names).

Stateless layers (:mod:`sj.layer.stateless`) are the torch modules plus ``step_mode``: in ``'m'`` they fold time into
the batch. Stateful layers (dropout masks, delays, synaptic filters, recurrent containers) are
:class:`~sj.base.MemoryModule` s reset by :func:`sj.functional.reset_net`.
"""

from sj.layer.container import MultiStepContainer, SeqToANNContainer, StepModeContainer
from sj.layer.dropout import Dropout, Dropout2d
from sj.layer.norm import (
    TemporalEffectiveBatchNorm1d,
    TemporalEffectiveBatchNorm2d,
    TemporalEffectiveBatchNorm3d,
    ThresholdDependentBatchNorm1d,
    ThresholdDependentBatchNorm2d,
    ThresholdDependentBatchNorm3d,
)
from sj.layer.recurrent import ElementWiseRecurrentContainer, LinearRecurrentContainer
from sj.layer.stateless import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    Flatten,
    GroupNorm,
    Linear,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    SeqFoldMixin,
    Upsample,
    VotingLayer,
)
from sj.layer.synapse import Delay, SynapseFilter

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "Delay", "Dropout", "Dropout2d", "ElementWiseRecurrentContainer", "Flatten", "GroupNorm", "Linear",
    "LinearRecurrentContainer", "MaxPool1d", "MaxPool2d", "MaxPool3d", "MultiStepContainer", "SeqFoldMixin",
    "SeqToANNContainer", "StepModeContainer", "SynapseFilter", "TemporalEffectiveBatchNorm1d",
    "TemporalEffectiveBatchNorm2d", "TemporalEffectiveBatchNorm3d", "ThresholdDependentBatchNorm1d",
    "ThresholdDependentBatchNorm2d", "ThresholdDependentBatchNorm3d", "Upsample", "VotingLayer",
]
