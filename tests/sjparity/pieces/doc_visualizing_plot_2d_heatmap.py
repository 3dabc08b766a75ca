# ruff: noqa
"""Docstring of visualizing.plot_2d_heatmap: the membrane potentials of 32 LIF neurons (tau = 100) over 50 steps
(dpi lowered); the image drawn and its extent are compared."""
import numpy as np
import torch
from spikingjelly.activation_based import neuron
from spikingjelly import visualizing
from matplotlib import pyplot as plt

lif = neuron.LIFNode(tau=100.0)
x = torch.rand(size=[32]) * 4
T = 50
s_list = []
v_list = []
for t in range(T):
    s_list.append(lif(x).unsqueeze(0))
    v_list.append(lif.v.unsqueeze(0))

s_list = torch.cat(s_list)
v_list = torch.cat(v_list)

fig, ax = visualizing.plot_2d_heatmap(
    array=v_list,
    title="Membrane Potentials",
    xlabel="Simulating Step",
    ylabel="Neuron Index",
    int_x_ticks=True,
    x_max=T,
    dpi=50,
)
plt.show()

result = {"v": v_list, "s": s_list, "image": np.asarray(ax.images[0].get_array()),
          "extent": list(ax.images[0].get_extent())}
