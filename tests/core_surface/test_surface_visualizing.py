"""sj.visualizing writes real PNGs, returns SpikingJelly's (figure, axes…) and validates shapes."""

import pytest
import torch

pytest.importorskip("matplotlib", reason="sj.visualizing needs the plot extra (matplotlib)")

import matplotlib.pyplot as plt

from sj import visualizing


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _is_png(path):
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_save_png(tmp_path):
    torch.manual_seed(0)
    s = (torch.rand(20, 8) < 0.3).float()
    small = {"figsize": (4, 3), "dpi": 50}
    fig, ax = visualizing.plot_1d_spikes(s, **small, savefig_path=tmp_path / "raster.png")
    assert _is_png(tmp_path / "raster.png") and plt.gcf() is fig  # a pyplot figure: plt.show()/savefig see it
    # the raster marks exactly the spikes, neuron n on row n
    for n, events in enumerate(ax.collections):
        assert events.get_positions() == torch.nonzero(s[:, n]).flatten().tolist()
        assert events.get_lineoffset() == n
    visualizing.plot_2d_heatmap(torch.randn(20, 8), **small, savefig_path=tmp_path / "heat.png")
    visualizing.plot_one_neuron_v_s(torch.rand(20), s[:, 0], **small, savefig_path=tmp_path / "v.png")
    visualizing.plot_firing_rates({"1": 0.2, "3": 0.05}, **small, savefig_path=tmp_path / "rates.png")
    visualizing.plot_2d_bar_in_3d(torch.rand(5, 3), dpi=50, savefig_path=tmp_path / "bars.png")
    visualizing.plot_2d_feature_map(torch.rand(6, 4, 4), 2, 3, 2, **small, savefig_path=tmp_path / "maps.png")
    for name in ("heat", "v", "rates", "bars", "maps"):
        assert _is_png(tmp_path / f"{name}.png")


def test_feature_map_tiles_row_by_row():
    x = torch.arange(6.0).view(6, 1, 1).expand(6, 2, 3)
    _, ax = visualizing.plot_2d_feature_map(x, 2, 3, 2, "maps")
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (2 * 4, 3 * 5)
    assert mosaic[1, 1] == 0 and mosaic[1, 6] == 1 and mosaic[5, 11] == 5 and mosaic[0, 0] == 5  # gaps: the max


def test_plot_shape_errors():
    with pytest.raises(ValueError, match="2-D"):
        visualizing.plot_1d_spikes(torch.zeros(3))
    with pytest.raises(ValueError, match="same length"):
        visualizing.plot_one_neuron_v_s(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="must equal C"):
        visualizing.plot_2d_feature_map(torch.zeros(5, 2, 2), 2, 3, 1)
    with pytest.raises(TypeError, match=r"torch\.Tensor or numpy\.ndarray"):
        visualizing.plot_2d_heatmap([[1.0]])
