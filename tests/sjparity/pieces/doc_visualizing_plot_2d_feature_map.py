# ruff: noqa
"""Docstring of visualizing.plot_2d_feature_map: 48 binary 8×8 maps tiled 6×8 with spacing 2 (dpi lowered); the tiled
image drawn is compared."""
from spikingjelly import visualizing
import numpy as np
from matplotlib import pyplot as plt

C = 48
W = 8
H = 8
spikes = (np.random.rand(C, W, H) > 0.8).astype(float)
fig, ax = visualizing.plot_2d_feature_map(
    x3d=spikes, nrows=6, ncols=8, space=2, title="Spiking Feature Maps", dpi=50
)
plt.show()

result = {"image": np.asarray(ax.images[0].get_array()), "title": ax.get_title()}
