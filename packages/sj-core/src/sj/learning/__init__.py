"""Local learning rules: trace STDP and reward-modulated STDP (SpikingJelly-compatible learners)."""

from sj.learning.stdp import MSTDPETLearner, MSTDPLearner, STDPLearner

__all__ = ["MSTDPETLearner", "MSTDPLearner", "STDPLearner"]
