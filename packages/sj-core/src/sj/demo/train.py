"""Training loop of the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sj.backends.registry import AUTO, resolve
from sj.demo.data import load_digits_split
from sj.demo.model import DigitsSNN
from sj.functional import reset_net, set_backend

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def train_epoch(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], opt: torch.optim.Optimizer,
                batch_size: int, gen: torch.Generator) -> float:
    """One epoch over ``(x, y)`` in a random order drawn from ``gen``, resetting the network's state before each
    batch (a no-op for an ANN); returns the mean of ``loss_of(net(batch), labels)`` over the samples."""
    net.train()
    order = torch.randperm(len(x), generator=gen).to(x.device)
    total = 0.0
    for i in range(0, len(x), batch_size):
        idx = order[i:i + batch_size]
        reset_net(net)
        loss = loss_of(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    return total / len(x)


def _rate_loss(rate: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """MSE between output firing rates and one-hot labels (SpikingJelly's tutorial loss)."""
    return F.mse_loss(rate, F.one_hot(labels, 10).to(rate.dtype))


@dataclass
class DemoConfig:
    """Options of :func:`run_demo` (the ``sj demo`` flags)."""

    T: int = 4
    epochs: int = 6
    batch_size: int = 16
    lr: float = 1e-2
    encoding: str = "direct"
    backend: str | None = None  # None: no backend named, each neuron on the default ("auto") choice
    device: str | None = None  # None: cuda if available, else cpu
    subset: int | None = None
    seed: int = 0
    plot: str | Path | None = None
    progress: bool = True


@dataclass
class DemoResult:
    """What :func:`run_demo` measured."""

    accuracy: float
    wall_time_s: float
    backend: str
    device: str
    epoch_losses: list[float] = field(default_factory=list)


def _progress(iterable, enabled: bool, **kw):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError("the demo's progress bar needs tqdm: pip install 'sj-core[demo]' (or pass --no-progress)"
                          ) from exc
    return tqdm(iterable, **kw)


@torch.no_grad()
def evaluate(net: DigitsSNN, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Test accuracy in ``[0, 1]``."""
    net.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        reset_net(net)
        correct += (net(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
    reset_net(net)
    return correct / len(x)


def run_demo(cfg: DemoConfig) -> DemoResult:
    """Train :class:`~sj.demo.model.DigitsSNN` on digits and return the test accuracy and wall time."""
    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x_tr, y_tr, x_te, y_te = (t.to(device) for t in load_digits_split(seed=cfg.seed, subset=cfg.subset))
    net = DigitsSNN(cfg.T, encoding_kind=cfg.encoding).to(device)
    set_backend(net, cfg.backend or AUTO)  # raises, naming the neuron and the reason, if it cannot run here
    # what runs: the named backend, or what the default picks for these neurons here (a fixed order, no timing)
    backend = ", ".join(sorted({resolve(m.backend, m.spec(), device, x_tr.dtype) for m in net.spike_layers()}))
    if cfg.backend is None:
        backend += " (the default: no backend named)"
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.epochs))
    losses = []
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in _progress(range(cfg.epochs), cfg.progress, desc=f"training ({backend})", unit="epoch"):
        losses.append(train_epoch(net, x_tr, y_tr, _rate_loss, opt, cfg.batch_size, gen))
        sched.step()
    accuracy = evaluate(net, x_te, y_te)
    if cfg.plot is not None:
        plot_test_sample(net, x_te[:1], int(y_te[0]), cfg.plot)
    return DemoResult(accuracy, time.perf_counter() - t_start, backend, str(device), losses)


def plot_test_sample(net: DigitsSNN, x: torch.Tensor, label: int, path: str | Path) -> Figure:
    """Save (and return) the spike raster of one test sample: the 10 output neurons (rows labelled with their digits)
    above the first 48 neurons of hidden layer 2, one column per time step (all T), a filled cell per spike."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from sj.monitor import OutputMonitor

    layers = net.spike_layers()
    mon = OutputMonitor(net, type(layers[0]))
    try:
        reset_net(net)
        with torch.no_grad():
            pred = int(net(x).argmax(1))
        hidden, out = mon.records[1][:, 0].flatten(1)[:, :48], mon.records[2][:, 0]
    finally:
        mon.remove_hooks()
        reset_net(net)
    spikes = torch.cat((out, hidden), dim=1).T.cpu().numpy()  # [10 + 48, T], outputs first
    n_out, T = out.shape[1], spikes.shape[1]
    fig = Figure(figsize=(min(4 + 0.35 * T, 16), 9), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(spikes, aspect="auto", cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    ax.axhline(n_out - 0.5, color="tab:red", lw=1)
    hidden_ticks = list(range(n_out, spikes.shape[0], 8))
    ax.set_yticks(list(range(n_out)) + hidden_ticks,
                  [f"digit {d}" for d in range(n_out)] + [f"hidden {i - n_out}" for i in hidden_ticks])
    for d, tick in enumerate(ax.get_yticklabels()[:n_out]):
        tick.set_color("tab:green" if d == label else "tab:red" if d == pred else "black")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(T, 16)))
    ax.set(xlabel=f"time step t (T = {T})", xlim=(-0.5, T - 0.5),
           title=f"test sample: label {label} (green), predicted {pred}" + ("" if pred == label else " (red)"))
    fig.savefig(path)
    return fig
