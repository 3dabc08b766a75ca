"""The demo network: conv-BN-pool-LIF ×2, then a linear spiking readout, all in multi-step mode."""

from __future__ import annotations

import torch
from torch import nn

from sj import encoding, layer, neuron, surrogate
from sj.functional import set_step_mode


class DigitsSNN(nn.Module):
    """``[N, 1, 8, 8]`` images → firing rates ``[N, 10]`` (mean over ``T`` steps of the output spikes).

    Args:
        T: number of time steps.
        channels: channels of the first conv (the second has twice as many).
        encoding_kind: ``'direct'`` (the image is the input current at every step; the first conv encodes) or
            ``'poisson'`` (Bernoulli spikes with the pixel intensity as probability).
    """

    def __init__(self, T: int = 4, channels: int = 16, encoding_kind: str = "direct") -> None:
        super().__init__()
        if encoding_kind not in ("direct", "poisson"):
            raise ValueError(f"encoding must be 'direct' or 'poisson', got {encoding_kind!r}")
        if T < 1:
            raise ValueError(f"T must be ≥ 1, got {T}")
        self.T, self.encoding_kind = T, encoding_kind
        self.encoder = encoding.PoissonEncoder()
        c = channels

        def lif() -> neuron.LIFNode:
            return neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)

        self.features = nn.Sequential(
            # pooling before the neurons: 4× fewer neuron states, same receptive fields
            layer.Conv2d(1, c, 3, padding=1, bias=False), layer.BatchNorm2d(c), layer.MaxPool2d(2), lif(),  # 4×4
            layer.Conv2d(c, 2 * c, 3, padding=1, bias=False), layer.BatchNorm2d(2 * c), layer.MaxPool2d(2), lif(),
            layer.Flatten(),
            layer.Linear(2 * c * 4, 10), lif(),
        )
        set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_seq = x.unsqueeze(0).expand(self.T, *x.shape)
        if self.encoding_kind == "poisson":
            x_seq = self.encoder(x_seq.contiguous())
        return self.features(x_seq).mean(0)

    def spike_layers(self) -> list[neuron.BaseNode]:
        """The neuron modules, input to output."""
        return [m for m in self.modules() if isinstance(m, neuron.BaseNode)]
