# ruff: noqa
"""Docstring of visualizing.plot_1d_spikes: the spikes of 32 LIF neurons (tau = 100) over 50 steps as a raster with
firing rates (dpi lowered)."""
import torch
from spikingjelly.activation_based import neuron
from spikingjelly import visualizing
from matplotlib import pyplot as plt

lif = neuron.LIFNode(tau=100.0)
x = torch.rand(size=[32]) * 4
T = 50
s_list = []
for t in range(T):
    s_list.append(lif(x).unsqueeze(0))

s_list = torch.cat(s_list)

fig, ax = visualizing.plot_1d_spikes(
    spikes=s_list,
    title="Spikes",
    xlabel="Simulating Step",
    ylabel="Neuron Index",
    dpi=50,
)
plt.show()

result = {"s": s_list, "n_axes": len(fig.axes)}
