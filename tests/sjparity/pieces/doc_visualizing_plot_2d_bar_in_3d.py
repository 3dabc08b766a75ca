# ruff: noqa
"""Docstring of visualizing.plot_2d_bar_in_3d: firing rates over epochs as 3-D bars; the heights drawn are compared."""
import torch
from spikingjelly import visualizing
from matplotlib import pyplot as plt

Epochs = 5
N = 10
firing_rate = torch.zeros(Epochs, N)
init_firing_rate = torch.rand(size=[N])
for i in range(Epochs):
    firing_rate[i] = torch.softmax(init_firing_rate * (i + 1) ** 2, dim=0)
fig, ax = visualizing.plot_2d_bar_in_3d(
    firing_rate,
    title="spiking rates of output layer",
    xlabel="neuron index",
    ylabel="training epoch",
    zlabel="spiking rate",
)
plt.show()

result = {"firing_rate": firing_rate, "title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel()}
