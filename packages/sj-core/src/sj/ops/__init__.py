"""The multi-step neuron op: one ``torch.library`` op, dispatched to the backend named in the call."""

from sj.ops.multistep import multistep
from sj.ops.spec import MultiStepSpec

__all__ = ["MultiStepSpec", "multistep"]
