"""Learning methods: local synaptic plasticity (:mod:`~sj.learning.plasticity`) and gradient-based online training
(:mod:`~sj.learning.online_learning`), at SpikingJelly's paths."""

from sj.learning import online_learning, plasticity
from sj.learning.plasticity import MSTDPETLearner, MSTDPLearner, STDPLearner

__all__ = ["MSTDPETLearner", "MSTDPLearner", "STDPLearner", "online_learning", "plasticity"]
