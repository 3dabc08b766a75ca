# ruff: noqa
"""Docstring of visualizing.plot_one_neuron_v_s: one LIF neuron (tau = 100) driven by 2.0 for 150 steps, v and spikes
plotted; the voltage curve drawn is compared. The docstring passes the Python lists, which SJ 2.0 refuses
(TypeError): they are concatenated first."""
import numpy as np
import torch
from spikingjelly.activation_based import neuron
from spikingjelly import visualizing
from matplotlib import pyplot as plt

lif = neuron.LIFNode(tau=100.0)
x = torch.Tensor([2.0])
T = 150
s_list = []
v_list = []
for t in range(T):
    s_list.append(lif(x))
    v_list.append(lif.v)
fig, ax_v, ax_s = visualizing.plot_one_neuron_v_s(
    torch.cat(v_list), torch.cat(s_list), v_threshold=lif.v_threshold, v_reset=lif.v_reset
)
plt.show()

result = {"v": torch.cat(v_list), "s": torch.cat(s_list), "v_drawn": np.asarray(ax_v.lines[0].get_ydata())}
