"""SNASNet (Kim et al. 2022, "Neural Architecture Search for Spiking Neural Networks"; SpikingJelly 2.0's
``model.snas_net``), with SpikingJelly's module names.

A searched cell is a DAG on four nodes; ``con_mat[row, col]`` (rows < cols: forward edges; a ``backward`` cell also
uses rows > cols, feeding the later nodes' outputs back at the next step) picks each edge's operation: 0 zero,
1 identity, 2 LIF → 1×1 conv-BN, 3 LIF → 3×3 conv-BN, 4 3×3 average pooling. The network: a conv-BN stem computed
once, then for ``args.timestep`` steps cell 1 → BN-LIF-conv-BN → 2×2 average pooling → cell 2 → BN-LIF → average
pooling → dropout-linear-LIF-linear, the outputs averaged over groups of ``num_cluster`` and over the steps:
``[N, 3, H, W]`` → ``[N, classes]``. LIF neurons: threshold ``args.threshold``, τ ``args.tau``, ATan surrogate,
``detach_reset=True``, step mode ``'s'`` (their state carries over calls until ``sj.functional.reset_net``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sj import layer, surrogate
from sj.neuron import LIFNode

__all__ = ["SNASNet"]

# dataset → (classes, output neurons, cluster, image size, stem channel ratio, classifier width, stem stride,
#            spatial decay per unit of second_avgpooling)
DATASETS = {"cifar10": (10, 100, 10, 32, 2, 1024, 1, 2), "cifar100": (100, 500, 5, 32, 1, 1024, 1, 2),
            "tinyimagenet": (200, 1000, 5, 64, 1, 4096, 2, 4)}


class ScaleLayer(nn.Module):
    """Multiplies by 0: the "zero" edge."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.tensor(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def _lif(args: Any) -> LIFNode:
    return LIFNode(v_threshold=args.threshold, v_reset=0.0, tau=args.tau, surrogate_function=surrogate.ATan(),
                   detach_reset=True)


def _edge(op: int, args: Any, cin: int, cout: int) -> nn.Module:
    if op == 0:
        return ScaleLayer()
    if op == 1:
        return nn.Identity()
    if op in (2, 3):
        k = 1 if op == 2 else 3
        return nn.Sequential(_lif(args), nn.Conv2d(cin, cout, k, stride=1, padding=k // 2, bias=False),
                             nn.BatchNorm2d(cout))
    if op == 4:
        return nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
    raise ValueError(f"SNASNet: unknown edge operation {op} (0 zero, 1 identity, 2 conv1x1, 3 conv3x3, 4 avgpool)")


class Neuronal_Cell(nn.Module):
    """A forward cell: ``x1 = e01(x)``, ``x2 = e02(x) + e12(x1)``, ``x3 = e03(x) + e13(x1) + e23(x2)``."""

    def __init__(self, args: Any, in_channel: int, out_channel: int, con_mat: Any) -> None:
        super().__init__()
        self.con_mat = con_mat
        self.cell_architecture = nn.ModuleList(_edge(int(con_mat[r, c]), args, in_channel, out_channel)
                                               for c in range(1, 4) for r in range(c))

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        e = self.cell_architecture
        x1 = e[0](x_in)
        x2 = e[1](x_in) + e[2](x1)
        return e[3](x_in) + e[4](x1) + e[5](x2)


class Neuronal_Cell_backward(Neuronal_Cell):
    """A cell with backward edges (``con_mat[row, col]``, row > col): the later nodes' outputs of a step are added to
    the earlier nodes' inputs at the next step."""

    def __init__(self, args: Any, in_channel: int, out_channel: int, con_mat: Any) -> None:
        super().__init__(args, in_channel, out_channel, con_mat)
        self.last_xin = self.last_x1 = self.last_x2 = 0.0
        self.cell_architecture_back = nn.ModuleList(_edge(int(con_mat[r, c]), args, in_channel, out_channel)
                                                    for c in range(3) for r in range(c + 1, 4))

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        e, b = self.cell_architecture, self.cell_architecture_back
        x0 = x_in + self.last_xin
        x1 = e[0](x0)
        x2 = e[1](x0) + e[2](x1 + self.last_x1)
        x3 = e[3](x0) + e[4](x1 + self.last_x1) + e[5](x2 + self.last_x2)
        self.last_xin = b[0](x1 + self.last_x1) + b[1](x2 + self.last_x2) + b[2](x3)
        self.last_x1 = b[3](x2 + self.last_x2) + b[4](x3)
        self.last_x2 = b[5](x3)
        return x3


class SNASNet(nn.Module):
    """SNASNet (see the module docstring).

    Args:
        args: an object with ``timestep``, ``second_avgpooling``, ``dataset`` (``'cifar10'``, ``'cifar100'`` or
            ``'tinyimagenet'``), ``celltype`` (``'forward'`` or ``'backward'``), ``threshold`` and ``tau``.
        con_mat: the 4×4 cell connection matrix (indexable as ``con_mat[row, col]``, e.g. a numpy array).
    """

    def __init__(self, args: Any, con_mat: Any) -> None:
        super().__init__()
        if args.dataset not in DATASETS:
            raise ValueError(f"SNASNet: dataset must be one of {sorted(DATASETS)}, got {args.dataset!r}")
        if args.celltype not in ("forward", "backward"):
            raise ValueError(f"Unsupported celltype: {args.celltype!r}")
        (self.num_class, self.num_final_neuron, self.num_cluster, self.img_size, self.channel_ratio,
         self.classifier_inter_ch, self.stem_stride, decay) = DATASETS[args.dataset]
        self.con_mat, self.total_timestep, self.second_avgpooling = con_mat, args.timestep, args.second_avgpooling
        self.in_channel, self.first_out_channel = 3, 128
        self.spatial_decay = decay * self.second_avgpooling
        c1, c2 = 128 * self.channel_ratio, 256 * self.channel_ratio
        cell = Neuronal_Cell if args.celltype == "forward" else Neuronal_Cell_backward
        self.stem = nn.Sequential(nn.Conv2d(3, c1, 3, stride=self.stem_stride, padding=1, bias=False),
                                  nn.BatchNorm2d(c1))
        self.cell1 = cell(args, c1, c1, con_mat)
        self.downconv1 = nn.Sequential(nn.BatchNorm2d(c1), _lif(args), nn.Conv2d(c1, c2, 3, padding=1, bias=False),
                                       nn.BatchNorm2d(c2))
        self.resdownsample1 = nn.AvgPool2d(2, 2)
        self.cell2 = cell(args, c2, c2, con_mat)
        self.last_act = nn.Sequential(nn.BatchNorm2d(c2), _lif(args))
        self.resdownsample2 = nn.AvgPool2d(self.second_avgpooling, self.second_avgpooling)
        side = self.img_size // self.spatial_decay
        self.classifier = nn.Sequential(layer.Dropout(0.5), nn.Linear(c2 * side * side, self.classifier_inter_ch,
                                                                      bias=False),
                                        _lif(args), nn.Linear(self.classifier_inter_ch, self.num_final_neuron))
        self.boost = nn.AvgPool1d(self.num_cluster, self.num_cluster)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.neuron_init()
        static_x = self.stem(x)
        acc = 0
        for _ in range(self.total_timestep):
            y = self.resdownsample1(self.downconv1(self.cell1(static_x)))
            y = self.resdownsample2(self.last_act(self.cell2(y)))
            y = self.classifier(y.view(x.size(0), -1))
            acc = acc + self.boost(y.unsqueeze(1)).squeeze(1)
        return acc / self.total_timestep

    def neuron_init(self) -> None:
        """Clear the backward cells' carried node outputs."""
        for cell in (self.cell1, self.cell2):
            if isinstance(cell, Neuronal_Cell_backward):
                cell.last_xin = cell.last_x1 = cell.last_x2 = 0.0
