# ruff: noqa
"""Tutorial basic_concept, "Step Mode": a module's step mode set in __init__ and changed afterwards."""
import torch
from spikingjelly.activation_based import neuron

net = neuron.IFNode(step_mode='m')
# 'm' is the multi-step mode
modes = [net.step_mode]
net.step_mode = 's'
# 's' is the single-step mode
modes.append(net.step_mode)

result = {"modes": modes}
