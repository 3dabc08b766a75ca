"""The searchable spiking layers of SpikeDHS (Che et al. 2022, "Differentiable hierarchical and surrogate gradient
search for spiking neural networks"; SpikingJelly 2.0's ``model.spike_dhs``), with SpikingJelly's module names.

- :class:`DSpike`: the DSpike surrogate, ``g'(z) = α / (2·tanh(α/2)) / cosh²(αz)`` for ``|z| ≤ 1/2``, else 0
  (declared once, so every backend generates it; no primitive).
- :class:`save_v_LIFNode`: a LIF neuron that keeps ``v_before_spike``, the mean of ``H − V_th`` at its last step
  (what the surrogate search reads).
- :class:`SpikingConv2d`, :class:`SpikingLinear`, :class:`SpikingAvgPool2d`, :class:`SpikingAdaptiveAvgPool2d`:
  a layer, BN where it has one, and a LIF (τ = 1.25, ``decay_input=False``, threshold 0.5, ``detach_reset=True``,
  DSpike).
- :class:`SearchSpikingConv2d_stem`, :class:`SearchSpikingConv2d_cell`: three copies of a conv-BN-LIF path whose
  DSpike widths differ by ``dgs_step``, mixed by a softmax over ``dgs_alpha`` during a search stage
  (:meth:`dgs_init_stage` … :meth:`dgs_finish_stage`).

The layers are sj.layer modules in step mode ``'s'``; ``sj.functional.set_step_mode(net, 'm')`` runs sequences.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sj import layer
from sj.neuron import LIFNode
from sj.surrogate import SurrogateFunction
from sj.surrogate.declarations import SurrogateDecl, surrogates

__all__ = ["DSpike", "SearchSpikingConv2d_cell", "SearchSpikingConv2d_stem", "SpikingAdaptiveAvgPool2d",
           "SpikingAvgPool2d", "SpikingConv2d", "SpikingLinear", "save_v_LIFNode"]

# α/(2·tanh(α/2))/cosh²(αz) in exponentials (sj's code generators have exp, not cosh/tanh)
surrogates.register(SurrogateDecl("DSpike", ("alpha",), (3.0,),
                                  "Piecewise((0, Abs(z) > 1/2), (2 * alpha * (exp(alpha) + 1) / (exp(alpha) - 1) "
                                  "/ (exp(alpha * z) + exp(-alpha * z))**2, True))"))


class DSpike(SurrogateFunction):
    """DSpike surrogate (see the module docstring); ``alpha > 0`` (default 3). Spiking only (no primitive)."""

    decl_name = "DSpike"
    bounds = {"alpha": 0.0}  # noqa: RUF012 (SurrogateFunction's class-level table)

    def __init__(self, alpha: float = 3, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=alpha)


class save_v_LIFNode(LIFNode):
    """:class:`sj.neuron.LIFNode` that records ``v_before_spike = mean(H − V_th)`` of its last step (the sequence of
    them in ``v_seq`` with ``store_v_seq=True`` in step mode ``'m'``, which steps one at a time)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.v_before_spike: torch.Tensor | None = None

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        spike, h = self.advance(x)
        self.v_before_spike = (h - self.v_threshold).mean()
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        spikes, observed = [], []
        for x in x_seq:
            spikes.append(self.single_step_forward(x))
            observed.append(self.v_before_spike)
        if self.store_v_seq:
            self.v_seq = torch.stack(observed)
        return torch.stack(spikes)


def _spiking_node(v_threshold: float = 0.5, record: bool = False) -> LIFNode:
    cls = save_v_LIFNode if record else LIFNode
    return cls(tau=1.25, decay_input=False, v_threshold=v_threshold, detach_reset=True, surrogate_function=DSpike())


class SpikingConv2d(nn.Module):
    """conv → BN [→ LIF] (``spiking``); ``b`` is SpikingJelly's unused width argument."""

    def __init__(self, input_c: int, output_c: int, kernel_size: int = 3, stride: int = 1, padding: int = 1,
                 b: int = 3, spiking: bool = True, v_threshold: float = 0.5) -> None:
        super().__init__()
        self.conv = layer.Conv2d(input_c, output_c, kernel_size=kernel_size, stride=stride, padding=padding)
        self.bn = layer.BatchNorm2d(output_c)
        self.spiking = spiking
        if spiking:
            self.spike = _spiking_node(v_threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.spike(x) if self.spiking else x


class SpikingLinear(nn.Module):
    """linear → BatchNorm1d [→ LIF] (``spiking``)."""

    def __init__(self, input_c: int, output_c: int, spiking: bool = True) -> None:
        super().__init__()
        self.linear = layer.Linear(input_c, output_c)
        self.bn = layer.SeqToANNContainer(nn.BatchNorm1d(output_c))
        self.spiking = spiking
        if spiking:
            self.spike = _spiking_node()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.linear(x))
        return self.spike(x) if self.spiking else x


class SpikingAvgPool2d(nn.Module):
    """average pooling (``count_include_pad=False``) → LIF."""

    def __init__(self, kernel_size: int = 5, stride: int = 3, padding: int = 0, b: int = 3,
                 spiking: bool = True) -> None:
        super().__init__()
        self.pooling = layer.SeqToANNContainer(nn.AvgPool2d(kernel_size, stride, padding, count_include_pad=False))
        self.spike = _spiking_node()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spike(self.pooling(x))


class SpikingAdaptiveAvgPool2d(nn.Module):
    """adaptive average pooling to ``dimension`` → LIF."""

    def __init__(self, dimension, b: int = 3, spiking: bool = True) -> None:
        super().__init__()
        self.pooling = layer.SeqToANNContainer(nn.AdaptiveAvgPool2d(dimension))
        self.spike = _spiking_node()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spike(self.pooling(x))


class _SurrogateSearch(nn.Module):
    """Three paths ``_s``, ``_m``, ``_b`` (the middle one is the network; the others' DSpike α differ by
    ``∓dgs_step``) mixed by ``softmax(dgs_alpha)`` during a search stage."""

    paths = ("s", "m", "b")

    def _init_search(self, weight: torch.Tensor) -> None:
        for p in self.paths:
            setattr(self, f"spike_{p}", _spiking_node(record=True))
        self.is_DGS = False
        self.dgs_alpha = nn.Parameter(weight.new_full((3,), 0.001))
        self.dgs_step = 0.2

    def _layers(self) -> list[str]:
        raise NotImplementedError

    def dgs_init_stage(self) -> None:
        """Start a search stage: copy the middle path's layers to the other two, set their α to ``α_m ∓ dgs_step``,
        reset the mixing weights."""
        self.is_DGS = True
        for name in self._layers():
            for p in ("s", "b"):
                getattr(self, f"{name}_{p}").load_state_dict(getattr(self, f"{name}_m").state_dict())
        alpha = self.spike_m.surrogate_function.alpha
        self.spike_s.surrogate_function.alpha = alpha - self.dgs_step
        self.spike_b.surrogate_function.alpha = alpha + self.dgs_step
        with torch.no_grad():
            self.dgs_alpha.fill_(0.001)
        for value in self.parameters():
            value.requires_grad_(True)

    def dgs_finish_stage(self, dgs_direction: int) -> None:
        """End a search stage: move the middle path's α by ``(−dgs_step, 0, +dgs_step)[dgs_direction]`` (at least
        0.2)."""
        self.is_DGS = False
        sg = self.spike_m.surrogate_function
        sg.alpha = max(sg.alpha + (-self.dgs_step, 0, self.dgs_step)[dgs_direction], 0.2)

    def _mix(self, path) -> torch.Tensor:
        if not self.is_DGS:
            return path("m")
        w = F.softmax(self.dgs_alpha, dim=0)
        return w[0] * path("s") + w[1] * path("m") + w[2] * path("b")


class SearchSpikingConv2d_stem(_SurrogateSearch):
    """The searchable stem: ``spike(bn(conv(x)))`` on each path."""

    def __init__(self, input_c: int, output_c: int, kernel_size: int = 3, stride: int = 1, padding: int = 1,
                 b: int = 3, spiking: bool = True, v_threshold: float = 0.5) -> None:
        super().__init__()
        for p in self.paths:
            setattr(self, f"conv_{p}", layer.Conv2d(input_c, output_c, kernel_size=kernel_size, stride=stride,
                                                    padding=padding))
        for p in self.paths:
            setattr(self, f"bn_{p}", layer.BatchNorm2d(output_c))
        self._init_search(self.conv_m.weight)

    def _layers(self) -> list[str]:
        return ["conv", "bn"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix(lambda p: getattr(self, f"spike_{p}")(getattr(self, f"bn_{p}")(getattr(self, f"conv_{p}")(x))))


class SearchSpikingConv2d_cell(_SurrogateSearch):
    """The searchable cell node: ``spike(bn1(conv1(x1)) + bn2(conv2(x2)))`` on each path; ``io_c`` is
    ``[[in1, out1, primitive1], [in2, out2, primitive2]]``."""

    def __init__(self, io_c, kernel_size: int = 3, stride: int = 1, padding: int = 1, b: int = 3,
                 spiking: bool = True, v_threshold: float = 0.5) -> None:
        super().__init__()
        (in1, out1, _), (in2, out2, _) = io_c
        for i, (cin, cout) in ((1, (in1, out1)), (2, (in2, out2))):
            for p in self.paths:
                setattr(self, f"conv{i}_{p}", layer.Conv2d(cin, cout, kernel_size=kernel_size, stride=stride,
                                                           padding=padding))
            for p in self.paths:
                setattr(self, f"bn{i}_{p}", layer.BatchNorm2d(cout))
        self._init_search(self.conv1_m.weight)

    def _layers(self) -> list[str]:
        return ["conv1", "bn1", "conv2", "bn2"]

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        def path(p: str) -> torch.Tensor:
            branch = [getattr(self, f"bn{i}_{p}")(getattr(self, f"conv{i}_{p}")(x)) for i, x in ((1, x1), (2, x2))]
            return getattr(self, f"spike_{p}")(branch[0] + branch[1])

        return self._mix(path)
