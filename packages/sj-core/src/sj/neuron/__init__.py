"""Spiking neuron modules: SpikingJelly 2.0's ``activation_based.neuron`` names, signatures and semantics.

Recurrent neurons that fit the declaration form are declarations (:mod:`sj.neuron.builtin`) plus
:class:`~sj.neuron.node.BaseNode`, and run the fused multi-step op on every backend; the others are plain modules with
a torch implementation (vectorised where the neuron is not a recurrence). :doc:`/neurons` lists which is which.
Charge equations of the declared neurons (H from V and X), then S = Θ(H − V_th) and V = H(1 − S) + V_reset·S (hard)
or V = H − V_th·S (soft, ``v_reset=None``; V_reset is then 0 inside the charge equations):

========================  =======================================================================================
``IFNode``                H = V + X
``LIFNode``               H = V + (X − (V − V_reset))/τ   (``decay_input=False``: H = V − (V − V_reset)/τ + X)
``ParametricLIFNode``     as LIF with 1/τ = σ(w), w learnable (initialised from ``init_tau``)
``QIFNode``               H = V + (X + a0(V − V_rest)(V − V_c))/τ
``EIFNode``               H = V + (X + V_rest − V + Δ_T·exp((V − θ_rh)/Δ_T))/τ
``IzhikevichNode``        H = V + (X + a0(V − V_rest)(V − V_c) − W)/τ;  W ← W + (a(H − V_rest) − W)/τ_w + b·S
``KLIFNode``              H = ReLU(k·(LIF charge)), k learnable
``CUBALIFNode``           C ← C·c_decay + X;  H = V·v_decay + C
``RAFNode``               H = e^{b·dt}(U sin ω·dt + V cos ω·dt);  U ← e^{b·dt}(U cos ω·dt − V sin ω·dt) + X
``HalfThresholdIFNode``   IF, soft reset, V starting at V_th/2
``NonSpikingIFNode``,     IF / LIF that never fire; output V (decoded over the sequence)
``NonSpikingLIFNode``
``LIAFNode``              LIF dynamics; outputs act(H) (or act(H − V_th)) instead of spikes
========================  =======================================================================================
"""

from __future__ import annotations

from sj.neuron.activation_aware import ActivationAwareIFNode
from sj.neuron.clif import ComplementaryLIFNode
from sj.neuron.declared import (
    AdaptBaseNode,
    CUBALIFNode,
    EIFNode,
    HalfThresholdIFNode,
    IFNode,
    IzhikevichNode,
    KLIFNode,
    LIAFNode,
    LIFNode,
    ParametricLIFNode,
    QIFNode,
    RAFNode,
)
from sj.neuron.dsr import DSRIFNode, DSRLIFNode
from sj.neuron.few_spike import FewSpikeNode, FewSpikeTable, HGNode, OutlierAwareThresholdNode
from sj.neuron.flexsn import FlexSN
from sj.neuron.gated import GatedLIFNode
from sj.neuron.ilc import ILCBaseNode, ILCCUBALIFNode, ILCIFNode, ILCLIFNode
from sj.neuron.ilif import ILIFNode
from sj.neuron.mpbn import MPBNBaseNode, MPBNLIFNode
from sj.neuron.node import BaseNode
from sj.neuron.noisy import (
    NoisyBaseNode,
    NoisyCUBALIFNode,
    NoisyILCBaseNode,
    NoisyILCCUBALIFNode,
    NoisyNonSpikingBaseNode,
    NoisyNonSpikingIFNode,
    powerlaw_psd_gaussian,
)
from sj.neuron.nonspiking import NonSpikingBaseNode, NonSpikingIFNode, NonSpikingLIFNode
from sj.neuron.online import OTTTLIFNode, SLTTLIFNode
from sj.neuron.psn import PSN, MaskedPSN, SlidingPSN
from sj.neuron.simple import SimpleBaseNode, SimpleIFNode, SimpleLIFNode
from sj.neuron.stbif import STBIFNode
from sj.neuron.ternary import TernaryIFNode, TernaryLIFNode

__all__ = ["PSN", "ActivationAwareIFNode", "AdaptBaseNode", "BaseNode", "CUBALIFNode", "ComplementaryLIFNode",
           "DSRIFNode", "DSRLIFNode", "EIFNode", "FewSpikeNode", "FewSpikeTable", "FlexSN", "GatedLIFNode", "HGNode",
           "HalfThresholdIFNode", "IFNode", "ILCBaseNode", "ILCCUBALIFNode", "ILCIFNode", "ILCLIFNode", "ILIFNode",
           "IzhikevichNode", "KLIFNode", "LIAFNode", "LIFNode", "MPBNBaseNode", "MPBNLIFNode", "MaskedPSN",
           "NoisyBaseNode", "NoisyCUBALIFNode", "NoisyILCBaseNode", "NoisyILCCUBALIFNode", "NoisyNonSpikingBaseNode",
           "NoisyNonSpikingIFNode", "NonSpikingBaseNode", "NonSpikingIFNode", "NonSpikingLIFNode", "OTTTLIFNode",
           "OutlierAwareThresholdNode", "ParametricLIFNode", "QIFNode", "RAFNode", "SLTTLIFNode", "STBIFNode",
           "SimpleBaseNode", "SimpleIFNode", "SimpleLIFNode", "SlidingPSN", "TernaryIFNode", "TernaryLIFNode",
           "powerlaw_psd_gaussian"]
