"""Plots of spiking activity (optional extra ``sj-core[plot]``: matplotlib).

Every function builds a :class:`matplotlib.figure.Figure` without pyplot (so it works headless and never opens a
window), saves it when ``savefig_path`` is given (format from the suffix, e.g. ``.png``), and returns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ArrayLike = torch.Tensor | np.ndarray


def _figure(figsize: tuple[float, float], dpi: int) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sj.visualizing needs matplotlib: pip install 'sj-core[plot]'") from exc
    return Figure(figsize=figsize, dpi=dpi)


def _array(name: str, x: ArrayLike, ndim: int) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return a


def _finish(fig: Figure, savefig_path: str | Path | None) -> Figure:
    fig.tight_layout()
    if savefig_path is not None:
        fig.savefig(savefig_path)
    return fig


def plot_1d_spikes(spikes: ArrayLike, title: str = "spikes", xlabel: str = "t", ylabel: str = "neuron",
                   firing_rate: bool = True, figsize: tuple[float, float] = (8, 4), dpi: int = 100,
                   savefig_path: str | Path | None = None) -> Figure:
    """Spike raster of ``spikes`` ``[T, N]`` (0/1): one row per neuron, a tick per spike; with ``firing_rate`` a
    side panel shows each neuron's rate (spikes per step)."""
    s = _array("spikes", spikes, 2)
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 5 if firing_rate else 1, (1, 4) if firing_rate else 1)
    t_idx, n_idx = np.nonzero(s)
    ax.scatter(t_idx, n_idx, marker="|", s=80, color="black")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(-0.5, s.shape[0] - 0.5), ylim=(-0.5, s.shape[1] - 0.5))
    if firing_rate:
        rate_ax = fig.add_subplot(1, 5, 5, sharey=ax)
        rate_ax.barh(np.arange(s.shape[1]), s.mean(0), color="tab:blue")
        rate_ax.set(xlabel="rate", xlim=(0, 1))
        rate_ax.tick_params(labelleft=False)
    return _finish(fig, savefig_path)


def plot_2d_heatmap(array: ArrayLike, title: str = "", xlabel: str = "t", ylabel: str = "neuron",
                    int_x_ticks: bool = True, int_y_ticks: bool = True, plot_colorbar: bool = True,
                    colorbar_y_label: str = "", figsize: tuple[float, float] = (8, 4), dpi: int = 100,
                    savefig_path: str | Path | None = None) -> Figure:
    """Heat map of ``array`` ``[T, N]`` (e.g. membrane potentials or firing rates over time), time on the x axis."""
    a = _array("array", array, 2)
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(a.T, aspect="auto", origin="lower", interpolation="nearest")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if int_x_ticks:
        ax.xaxis.get_major_locator().set_params(integer=True)
    if int_y_ticks:
        ax.yaxis.get_major_locator().set_params(integer=True)
    if plot_colorbar:
        fig.colorbar(im, ax=ax).set_label(colorbar_y_label)
    return _finish(fig, savefig_path)


def plot_firing_rates(rates: dict[str, float], title: str = "firing rate per layer",
                      figsize: tuple[float, float] = (6, 3), dpi: int = 100,
                      savefig_path: str | Path | None = None) -> Figure:
    """Bar chart of per-layer firing rates (the output of :func:`sj.monitor.firing_rates`)."""
    if not rates:
        raise ValueError("plot_firing_rates: no layers given")
    fig = _figure(figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(range(len(rates)), list(rates.values()))
    ax.set_xticks(range(len(rates)), list(rates), rotation=45, ha="right")
    ax.set(title=title, ylabel="spikes / step / neuron")
    return _finish(fig, savefig_path)


def plot_one_neuron_v_s(v: ArrayLike, s: ArrayLike, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                        title: str = "membrane potential and spikes", figsize: tuple[float, float] = (8, 4),
                        dpi: int = 100, savefig_path: str | Path | None = None) -> Figure:
    """Membrane-potential trace ``v`` ``[T]`` with the threshold (and reset) lines, above the spikes ``s`` ``[T]``."""
    va, sa = _array("v", v, 1), _array("s", s, 1)
    if va.shape != sa.shape:
        raise ValueError(f"v and s must have the same length, got {va.shape} and {sa.shape}")
    fig = _figure(figsize, dpi)
    ax_v = fig.add_subplot(2, 1, 1)
    ax_v.plot(np.arange(va.size), va, marker=".")
    ax_v.axhline(v_threshold, ls="--", color="tab:red", label="V_threshold")
    if v_reset is not None:
        ax_v.axhline(v_reset, ls="--", color="tab:gray", label="V_reset")
    ax_v.set(title=title, ylabel="V")
    ax_v.legend(loc="upper right")
    ax_s = fig.add_subplot(2, 1, 2, sharex=ax_v)
    ax_s.eventplot(np.nonzero(sa)[0], lineoffsets=0.5, colors="black")
    ax_s.set(xlabel="t", ylabel="spike", yticks=[])
    return _finish(fig, savefig_path)
