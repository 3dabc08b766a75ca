"""sj.visualizing against SpikingJelly 2.0.0's spikingjelly.visualizing: the same calls (positional, as SJ scripts
write them) return the same (figure, axes…) structure with the same drawn data and labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layers_parity_common import sj2

pytest.importorskip("matplotlib", reason="needs matplotlib")

import matplotlib.pyplot as plt

from sj import visualizing

V = sj2("visualizing")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labels(ax):
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


def test_heatmap_with_x_max():
    a = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    args = (a, "v", "t", "neuron", True, True, True, "voltage", 12.0, (4, 3), 50)
    (f1, ax1), (f2, ax2) = visualizing.plot_2d_heatmap(*args), V.plot_2d_heatmap(*args)
    assert np.array_equal(ax1.images[0].get_array(), ax2.images[0].get_array())
    assert ax1.images[0].get_extent() == ax2.images[0].get_extent() == [-0.5, 12.0, 3.5, -0.5]
    assert _labels(ax1) == _labels(ax2) and len(f1.axes) == len(f2.axes) == 2
    assert f1.axes[1].get_ylabel() == f2.axes[1].get_ylabel() == "voltage"


def test_spike_raster_and_rates():
    s = (torch.rand(10, 5, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    (f1, ax1), (f2, ax2) = visualizing.plot_1d_spikes(s, "spikes", "t", "n"), V.plot_1d_spikes(s, "spikes", "t", "n")
    assert [c.get_positions() for c in ax1.collections] == [c.get_positions() for c in ax2.collections]
    assert [c.get_lineoffset() for c in ax1.collections] == [c.get_lineoffset() for c in ax2.collections]
    assert ax1.get_ylim() == ax2.get_ylim() and _labels(ax1) == _labels(ax2)
    r1, r2 = f1.axes[1], f2.axes[1]
    assert [t.get_text() for t in r1.texts] == [t.get_text() for t in r2.texts]
    assert r1.get_title() == r2.get_title() == "firing rate"


def test_one_neuron_v_s():
    v = torch.rand(12, generator=torch.Generator().manual_seed(2))
    s = (v > 0.6).float()
    ours, theirs = visualizing.plot_one_neuron_v_s(v, s, 0.6, None), V.plot_one_neuron_v_s(v, s, 0.6, None)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours[1].lines, theirs[1].lines, strict=True):
        assert np.array_equal(a.get_ydata(), b.get_ydata())
    assert ours[2].collections[0].get_positions() == theirs[2].collections[0].get_positions()
    assert _labels(ours[1]) == _labels(theirs[1]) and _labels(ours[2]) == _labels(theirs[2])


def test_bar3d_and_feature_map():
    a = torch.rand(4, 3, generator=torch.Generator().manual_seed(3))
    (_, ax1), (_, ax2) = (f(a, "bars", "n", "t", "v", True, True, False, 50)
                          for f in (visualizing.plot_2d_bar_in_3d, V.plot_2d_bar_in_3d))
    assert len(ax1.patches) == len(ax2.patches) == 12 and _labels(ax1) == _labels(ax2)
    x = torch.rand(6, 3, 2, generator=torch.Generator().manual_seed(4))
    (_, ax1), (_, ax2) = (f(x, 2, 3, 3, "maps", (4, 3), 50)
                          for f in (visualizing.plot_2d_feature_map, V.plot_2d_feature_map))
    assert np.array_equal(ax1.images[0].get_array(), ax2.images[0].get_array())
