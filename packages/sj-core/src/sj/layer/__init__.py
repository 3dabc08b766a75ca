"""Layers and containers with step modes (SpikingJelly-compatible names).

Stateless layers (:mod:`sj.layer.stateless`) are the torch modules plus ``step_mode``: in ``'m'`` they fold time into
the batch. Stateful layers (dropout masks, delays, synaptic filters, recurrent containers, BNTT, NeuNorm) are
:class:`~sj.base.MemoryModule` s reset by :func:`sj.functional.reset_net`. Attention layers
(:mod:`sj.layer.attention`) and the OTTT wrappers (:mod:`sj.layer.online_learning`) complete SpikingJelly's
``activation_based.layer``.
"""

from sj.layer.attention import (
    ChannelQKAttention,
    MultiDimensionalAttention,
    QKAttention,
    SpikeDrivenSelfAttention,
    SpikingSelfAttention,
    TemporalWiseAttention,
    TokenQKAttention,
)
from sj.layer.container import (
    MultiStepContainer,
    SeqToANNContainer,
    StepModeContainer,
    TLastMultiStepContainer,
    TLastSeqToANNContainer,
)
from sj.layer.dropout import DropConnectLinear, Dropout, Dropout2d
from sj.layer.misc import PrintShapeModule, SpikeCountToBinary, TemporalBinSum
from sj.layer.norm import (
    BatchNormThroughTime1d,
    BatchNormThroughTime2d,
    BatchNormThroughTime3d,
    NeuNorm,
    TemporalEffectiveBatchNorm1d,
    TemporalEffectiveBatchNorm2d,
    TemporalEffectiveBatchNorm3d,
    ThresholdDependentBatchNorm1d,
    ThresholdDependentBatchNorm2d,
    ThresholdDependentBatchNorm3d,
)
from sj.layer.online_learning import GradwithTrace, OTTTSequential, ReplaceforGrad, SpikeTraceOp
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
    ConvTranspose3d,
    Flatten,
    GroupNorm,
    Linear,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
    SeqFoldMixin,
    Upsample,
    VotingLayer,
    WSConv2d,
    WSLinear,
)
from sj.layer.synapse import Delay, SynapseFilter

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "BatchNormThroughTime1d", "BatchNormThroughTime2d",
    "BatchNormThroughTime3d", "ChannelQKAttention", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
    "ConvTranspose2d", "ConvTranspose3d", "Delay", "DropConnectLinear", "Dropout", "Dropout2d",
    "ElementWiseRecurrentContainer", "Flatten", "GradwithTrace", "GroupNorm", "Linear", "LinearRecurrentContainer",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "MultiDimensionalAttention",
    "MultiStepContainer", "NeuNorm", "OTTTSequential", "PrintShapeModule", "QKAttention", "ReplaceforGrad",
    "SeqFoldMixin", "SeqToANNContainer", "SpikeCountToBinary", "SpikeDrivenSelfAttention", "SpikeTraceOp",
    "SpikingSelfAttention", "StepModeContainer", "SynapseFilter", "TLastMultiStepContainer", "TLastSeqToANNContainer",
    "TemporalBinSum", "TemporalEffectiveBatchNorm1d", "TemporalEffectiveBatchNorm2d", "TemporalEffectiveBatchNorm3d",
    "TemporalWiseAttention", "ThresholdDependentBatchNorm1d", "ThresholdDependentBatchNorm2d",
    "ThresholdDependentBatchNorm3d", "TokenQKAttention", "Upsample", "VotingLayer", "WSConv2d", "WSLinear",
]
