"""Plots of spiking activity with SpikingJelly's signatures (``spikingjelly.visualizing``; extra ``sj-core[plot]``).

Each function draws a new pyplot figure, as SpikingJelly does (so ``plt.show()`` or ``plt.savefig`` after it work as
in SpikingJelly scripts; under a non-interactive backend nothing opens), returns ``(figure, axes…)`` as SpikingJelly
does, and saves the figure when the sj-only keyword ``savefig_path`` is given. ``title``/``xlabel``/``ylabel``, which
SpikingJelly requires, default to short labels here. Inputs are ``torch.Tensor`` or ``numpy.ndarray``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ArrayLike = torch.Tensor | np.ndarray

__all__ = ["plot_1d_spikes", "plot_2d_bar_in_3d", "plot_2d_feature_map", "plot_2d_heatmap", "plot_firing_rates",
           "plot_one_neuron_v_s"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sj.visualizing needs matplotlib: pip install 'sj-core[plot]'") from exc
    return plt


def _array(name: str, x: ArrayLike, ndim: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        a = x.detach().cpu().numpy()
    elif isinstance(x, np.ndarray):
        a = x
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return a


def _integer_ticks(ax: Axes, x: bool, y: bool) -> None:
    from matplotlib.ticker import MaxNLocator, NullLocator

    for axis, integer in ((ax.xaxis, x), (ax.yaxis, y)):
        axis.set_major_locator(MaxNLocator(integer=integer))
        axis.set_minor_locator(NullLocator())


def _save(fig: Figure, savefig_path: str | Path | None) -> None:
    if savefig_path is not None:
        fig.savefig(savefig_path)


def plot_2d_heatmap(array: ArrayLike, title: str = "", xlabel: str = "t", ylabel: str = "neuron",
                    int_x_ticks: bool = True, int_y_ticks: bool = True, plot_colorbar: bool = True,
                    colorbar_y_label: str = "magnitude", x_max: float | None = None,
                    figsize: tuple[float, float] = (12, 8), dpi: int = 200, *,
                    savefig_path: str | Path | None = None) -> tuple[Figure, Axes]:
    """Heat map of ``array`` ``[T, N]`` (e.g. membrane potentials over time): time on the x axis, neuron 0 at the top.

    ``x_max``: the x axis spans ``[−0.5, x_max]`` instead of the step indices (e.g. simulated time).
    """
    a = _array("array", array, 2)
    fig, ax = _pyplot().subplots(figsize=figsize, dpi=dpi)
    extent = None if x_max is None else (-0.5, x_max, a.shape[1] - 0.5, -0.5)
    im = ax.imshow(a.T, aspect="auto", extent=extent)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    _integer_ticks(ax, int_x_ticks, int_y_ticks)
    if plot_colorbar:
        bar = fig.colorbar(im, ax=ax)
        bar.ax.set_ylabel(colorbar_y_label, rotation=90, va="top")
    _save(fig, savefig_path)
    return fig, ax


def plot_2d_bar_in_3d(array: ArrayLike, title: str = "", xlabel: str = "neuron", ylabel: str = "t",
                      zlabel: str = "value", int_x_ticks: bool = True, int_y_ticks: bool = True,
                      int_z_ticks: bool = False, dpi: int = 200, *,
                      savefig_path: str | Path | None = None) -> tuple[Figure, Axes]:
    """``array`` ``[T, N]`` as 3-D bars: one row of ``T`` bars per neuron (neuron on x, t on y, value on z)."""
    from matplotlib.ticker import MaxNLocator

    a = _array("array", array, 2)
    plt = _pyplot()
    fig = plt.figure(dpi=dpi)
    ax = fig.add_subplot(111, projection="3d")
    colors = plt.get_cmap("tab10")
    steps = np.arange(a.shape[0])
    for n in range(a.shape[1]):
        ax.bar(steps, a[:, n], n, zdir="x", color=colors(n % 10), alpha=0.8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, zlabel=zlabel)
    for axis, integer in ((ax.xaxis, int_x_ticks), (ax.yaxis, int_y_ticks), (ax.zaxis, int_z_ticks)):
        axis.set_major_locator(MaxNLocator(integer=integer))
    _save(fig, savefig_path)
    return fig, ax


def plot_2d_feature_map(x3d: ArrayLike, nrows: int, ncols: int, space: int, title: str = "",
                        figsize: tuple[float, float] = (12, 8), dpi: int = 200, *,
                        savefig_path: str | Path | None = None) -> tuple[Figure, Axes]:
    """The ``C`` maps of ``x3d`` ``[C, H, W]`` (``C = nrows·ncols``) tiled row by row in grey, ``space`` pixels apart
    (the gaps take the maximum value, so they show white)."""
    a = _array("x3d", x3d, 3)
    C, H, W = a.shape
    if nrows * ncols != C:
        raise ValueError(f"nrows * ncols ({nrows} * {ncols} = {nrows * ncols}) must equal C ({C})")
    if space < 0:
        raise ValueError(f"space must be ≥ 0, got {space}")
    mosaic = np.full(((H + space) * nrows, (W + space) * ncols), a.max(), dtype=np.float64)
    top, left = space // 2, space // 2
    for c in range(C):
        r, k = divmod(c, ncols)
        y, x = top + r * (H + space), left + k * (W + space)
        mosaic[y:y + H, x:x + W] = a[c]
    fig, ax = _pyplot().subplots(figsize=figsize, dpi=dpi)
    ax.set_title(title)
    ax.imshow(mosaic, cmap="gray")
    ax.get_xaxis().set_visible(False)
    ax.get_yaxis().set_visible(False)
    _save(fig, savefig_path)
    return fig, ax


def plot_1d_spikes(spikes: ArrayLike, title: str = "spikes", xlabel: str = "t", ylabel: str = "neuron",
                   int_x_ticks: bool = True, int_y_ticks: bool = True, plot_firing_rate: bool = True,
                   firing_rate_map_title: str = "firing rate", figsize: tuple[float, float] = (12, 8), dpi: int = 200,
                   *, savefig_path: str | Path | None = None) -> tuple[Figure, Axes]:
    """Spike raster of ``spikes`` ``[T, N]`` (0/1): one row per neuron (neuron 0 at the top), a tick per spike; with
    ``plot_firing_rate`` a side panel shows each neuron's rate (spikes per step). Returns the raster's axes."""
    s = _array("spikes", spikes, 2)
    T, N = s.shape
    plt = _pyplot()
    if plot_firing_rate:
        fig = plt.figure(figsize=figsize, dpi=dpi, tight_layout=True)
        grid = fig.add_gridspec(1, 5)
        ax, rate_ax = fig.add_subplot(grid[0, 0:4]), fig.add_subplot(grid[0, 4])
    else:
        fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(-0.5, T - 0.5), ylim=(-0.5, N - 0.5))
    _integer_ticks(ax, int_x_ticks, int_y_ticks)
    ax.invert_yaxis()
    colors = plt.get_cmap("tab10")
    steps = np.arange(T)
    for n in range(N):
        ax.eventplot(steps[s[:, n] == 1], lineoffsets=n, colors=colors(n % 10))
    if plot_firing_rate:
        rates = s.mean(axis=0, keepdims=True).T  # [N, 1]
        rate_ax.imshow(rates, cmap="magma", aspect="auto")
        high = rates.max()
        for n, r in enumerate(rates[:, 0]):
            light = r < 0.7 * high or rates.min() == high
            rate_ax.text(0, n, f"{r:.2f}", ha="center", va="center", color="w" if light else "black")
        _integer_ticks(rate_ax, False, True)
        rate_ax.get_xaxis().set_visible(False)
        rate_ax.set_title(firing_rate_map_title)
    _save(fig, savefig_path)
    return fig, ax


def plot_one_neuron_v_s(v: ArrayLike, s: ArrayLike, v_threshold: float = 1.0, v_reset: float | None = 0.0,
                        title: str = "$V[t]$ and $S[t]$ of the neuron", figsize: tuple[float, float] = (12, 8),
                        dpi: int = 200, *, savefig_path: str | Path | None = None) -> tuple[Figure, Axes, Axes]:
    """Membrane-potential trace ``v`` ``[T]`` with the threshold (and reset) lines, above the spikes ``s`` ``[T]``.
    Returns ``(figure, voltage axes, spike axes)``."""
    from matplotlib.ticker import MaxNLocator

    va, sa = _array("v", v, 1), _array("s", s, 1)
    if va.shape != sa.shape:
        raise ValueError(f"v and s must have the same length, got {va.shape} and {sa.shape}")
    T = sa.shape[0]
    fig = _pyplot().figure(figsize=figsize, dpi=dpi)
    grid = fig.add_gridspec(3, 1)
    ax_v, ax_s = fig.add_subplot(grid[0:2, 0]), fig.add_subplot(grid[2, 0])
    ax_v.plot(np.arange(T), va)
    ax_v.set(title=title, ylabel="voltage", xlim=(-0.5, T - 0.5))
    ax_v.axhline(v_threshold, label="$V_{threshold}$", linestyle="-.", c="r")
    if v_reset is not None:
        ax_v.axhline(v_reset, label="$V_{reset}$", linestyle="-.", c="g")
    ax_v.legend(frameon=True)
    ax_s.eventplot(np.arange(T)[sa == 1], lineoffsets=0, colors="r")
    ax_s.set(xlim=(-0.5, T - 0.5), xlabel="simulating step", ylabel="spike", yticks=[])
    ax_s.xaxis.set_major_locator(MaxNLocator(integer=True))
    _save(fig, savefig_path)
    return fig, ax_v, ax_s


def plot_firing_rates(rates: dict[str, float], title: str = "firing rate per layer",
                      figsize: tuple[float, float] = (6, 3), dpi: int = 100, *,
                      savefig_path: str | Path | None = None) -> tuple[Figure, Axes]:
    """Bar chart of per-layer firing rates (the output of :func:`sj.monitor.firing_rates`); sj only."""
    if not rates:
        raise ValueError("plot_firing_rates: no layers given")
    fig, ax = _pyplot().subplots(figsize=figsize, dpi=dpi)
    ax.bar(range(len(rates)), list(rates.values()))
    ax.set_xticks(range(len(rates)), list(rates), rotation=45, ha="right")
    ax.set(title=title, ylabel="spikes / step / neuron")
    fig.tight_layout()
    _save(fig, savefig_path)
    return fig, ax
