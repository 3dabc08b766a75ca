"""The ``sj demo --ann2snn`` experiment: train a small CNN on scikit-learn's digits, convert it, and measure the
SNN's test accuracy after T ∈ {8, 16, 32, 64} steps next to the ANN's. Needs ``sj-core[demo]`` (scikit-learn)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sj.ann2snn.converter import Converter
from sj.ann2snn.evaluate import accuracy_over_time
from sj.demo.train import train_epoch

DEFAULT_T_VALUES = (8, 16, 32, 64)


def digits_cnn(channels: int = 16) -> nn.Sequential:
    """The demo's ANN for ``[N, 1, 8, 8]`` digits: conv-BN-ReLU-maxpool, conv-BN-ReLU-avgpool, linear → 10 logits."""
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2),  # 4×4
        nn.Conv2d(c, 2 * c, 3, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(), nn.AvgPool2d(2),  # 2×2
        nn.Flatten(), nn.Linear(2 * c * 4, 10),
    )


def train_ann(net: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int = 15, batch_size: int = 32,
              lr: float = 1e-2, seed: int = 0) -> list[float]:
    """Train ``net`` with Adam and cross-entropy (cosine learning-rate schedule); returns the mean loss per epoch."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    losses = []
    for _ in range(epochs):
        losses.append(train_epoch(net, x, y, F.cross_entropy, opt, batch_size, gen))
        sched.step()
    return losses


@torch.no_grad()
def ann_accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of ``net`` (put in eval mode) on ``x`` ``[N, ...]`` with labels ``y`` ``[N]``."""
    net.eval()
    return (net(x).argmax(1) == y).float().mean().item()


@dataclass
class Ann2SnnDemoResult:
    """What :func:`run_ann2snn_demo` measured (accuracies in ``[0, 1]``)."""

    ann_accuracy: float
    snn_accuracy: dict[int, float]
    mode: str | float
    wall_time_s: float
    epoch_losses: list[float] = field(default_factory=list)

    def table(self) -> str:
        """A text table: T, SNN accuracy, ratio to the ANN, and a bar."""
        rows = [f"ANN accuracy: {self.ann_accuracy * 100:.2f} %", f"{'T':>4}  {'SNN acc':>8}  {'SNN/ANN':>7}"]
        for t, a in self.snn_accuracy.items():
            ratio = a / self.ann_accuracy if self.ann_accuracy else float("nan")
            rows.append(f"{t:>4}  {a * 100:>7.2f}%  {ratio:>7.3f}  {'#' * round(a * 40)}")
        return "\n".join(rows)


def run_ann2snn_demo(T_values: tuple[int, ...] = DEFAULT_T_VALUES, epochs: int = 15, mode: str | float = "99.9%",
                     channelwise: bool = False, backend: str = "torch", device: str | None = None, seed: int = 0,
                     progress: bool = True) -> Ann2SnnDemoResult:
    """Train :func:`digits_cnn` on the digits training split, convert it (calibrating on the training split) and
    evaluate ANN and SNN on the test split.

    Args:
        T_values: simulation lengths to report (one simulation of ``max(T_values)`` steps gives all).
        epochs: ANN training epochs.
        mode, channelwise, backend: passed to :class:`~sj.ann2snn.converter.Converter` (momentum ``None``).
        device: torch device (default: cuda if available, else cpu).
        seed: split, initialisation and shuffling seed.
        progress: show the calibration progress bar.
    """
    from sj.demo.data import load_digits_split

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x_tr, y_tr, x_te, y_te = (t.to(dev) for t in load_digits_split(seed=seed))
    ann = digits_cnn().to(dev)
    losses = train_ann(ann, x_tr, y_tr, epochs=epochs, seed=seed)
    ann_acc = ann_accuracy(ann, x_te, y_te)
    batches = [x_tr[i:i + 256] for i in range(0, len(x_tr), 256)]
    snn = Converter(mode=mode, momentum=None, channelwise=channelwise, backend=backend, progress=progress)(ann, batches)
    snn_acc = accuracy_over_time(snn, x_te, y_te, T_values)
    return Ann2SnnDemoResult(ann_acc, snn_acc, mode, time.perf_counter() - t0, losses)


def run_from_cli(backend: str | None = None, device: str | None = None, seed: int = 0, progress: bool = True) -> int:
    """``sj demo --ann2snn``: run :func:`run_ann2snn_demo` and print the accuracy table; returns the exit code."""
    r = run_ann2snn_demo(backend=backend or "torch", device=device, seed=seed, progress=progress)
    print(f"digits test split, ANN converted with mode={r.mode!r} (IF neurons, soft reset, backend "
          f"{backend or 'torch'})")
    print(r.table())
    print(f"wall time: {r.wall_time_s:.1f} s")
    return 0
