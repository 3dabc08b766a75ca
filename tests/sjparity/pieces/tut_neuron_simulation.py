# ruff: noqa
"""Tutorial neuron, "Simulation": one IF neuron driven by a constant 0.02 for 150 steps, plotted with
visualizing.plot_one_neuron_v_s (dpi lowered)."""
import torch
from spikingjelly.activation_based import neuron
from spikingjelly import visualizing
from matplotlib import pyplot as plt

if_layer = neuron.IFNode()
if_layer.reset()
x = torch.as_tensor([0.02])
T = 150
s_list = []
v_list = []
for t in range(T):
    s_list.append(if_layer(x))
    v_list.append(if_layer.v)

dpi = 50
figsize = (12, 8)
visualizing.plot_one_neuron_v_s(torch.cat(v_list).numpy(), torch.cat(s_list).numpy(), v_threshold=if_layer.v_threshold,
                                v_reset=if_layer.v_reset,
                                figsize=figsize, dpi=dpi)
plt.show()

result = {"v": torch.cat(v_list), "s": torch.cat(s_list)}
