"""sj.visualizing writes real PNGs and validates shapes."""

import pytest
import torch

pytest.importorskip("matplotlib", reason="sj.visualizing needs the plot extra (matplotlib)")

from sj import visualizing


def _is_png(path):
    return path.stat().st_size > 1000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_save_png(tmp_path):
    torch.manual_seed(0)
    s = (torch.rand(20, 8) < 0.3).float()
    fig = visualizing.plot_1d_spikes(s, savefig_path=tmp_path / "raster.png")
    assert _is_png(tmp_path / "raster.png")
    # the raster marks exactly the spikes
    offsets = fig.axes[0].collections[0].get_offsets()
    assert len(offsets) == int(s.sum())
    visualizing.plot_2d_heatmap(torch.randn(20, 8), savefig_path=tmp_path / "heat.png")
    visualizing.plot_one_neuron_v_s(torch.rand(20), s[:, 0], savefig_path=tmp_path / "v.png")
    visualizing.plot_firing_rates({"1": 0.2, "3": 0.05}, savefig_path=tmp_path / "rates.png")
    for name in ("heat", "v", "rates"):
        assert _is_png(tmp_path / f"{name}.png")


def test_plot_shape_errors():
    with pytest.raises(ValueError, match="2-D"):
        visualizing.plot_1d_spikes(torch.zeros(3))
    with pytest.raises(ValueError, match="same length"):
        visualizing.plot_one_neuron_v_s(torch.zeros(3), torch.zeros(4))
