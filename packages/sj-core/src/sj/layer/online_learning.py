"""Online training through time (OTTT, Xiao et al., 2022): layers that carry a presynaptic trace beside the spikes.

In OTTT a layer receives ``[spike, trace]``: the forward value comes from the spikes, while the weight gradient is
computed from the trace (an eligibility trace of the input spikes), so training needs no backpropagation through time.
"""

from __future__ import annotations

import torch
from torch import nn


class ReplaceforGrad(torch.autograd.Function):
    """``ReplaceforGrad.apply(x, x_r)``: the value of ``x_r``; the incoming gradient goes unchanged to both ``x`` and
    ``x_r``. Used to compute a forward from one tensor and a gradient from another."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, x_r: torch.Tensor) -> torch.Tensor:
        """The value of ``x_r``."""
        return x_r

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The incoming gradient, to both inputs."""
        return grad, grad


def _spike_and_trace(x) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(x, (list, tuple)) or len(x) != 2:
        raise TypeError(f"expected the pair [spike, trace], got {type(x).__name__}")
    return x[0], x[1]


def grad_with_trace(module: nn.Module, x) -> torch.Tensor:
    """``module(spike)`` in value; in backward, the gradient of ``module(trace)`` (for the module's parameters and for
    both inputs)."""
    spike, trace = _spike_and_trace(x)
    with torch.no_grad():
        out = module(spike)
    return ReplaceforGrad.apply(module(ReplaceforGrad.apply(spike, trace)), out)


def spike_and_trace(module: nn.Module, x) -> list[torch.Tensor]:
    """``[module(spike), module(trace)]``, the trace path without gradient (for parameter-free modules)."""
    spike, trace = _spike_and_trace(x)
    spike = module(spike)
    with torch.no_grad():
        trace = module(trace)
    return [spike, trace]


class GradwithTrace(nn.Module):
    """Wrap a module with weights for OTTT: input ``[spike, trace]``, output ``module(spike)`` whose gradient is that
    of ``module(trace)`` (see :func:`grad_with_trace`)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x) -> torch.Tensor:
        return grad_with_trace(self.module, x)


class SpikeTraceOp(nn.Module):
    """Wrap a parameter-free module (pooling, flatten) for OTTT: ``[spike, trace]`` → ``[module(spike),
    module(trace)]``, the trace without gradient."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x) -> list[torch.Tensor]:
        return spike_and_trace(self.module, x)


def _is_ottt_neuron(module: nn.Module) -> bool:
    import sj.neuron

    cls = getattr(sj.neuron, "OTTTLIFNode", None)
    return cls is not None and isinstance(module, cls)


class OTTTSequential(nn.Sequential):
    """:class:`torch.nn.Sequential` that routes ``[spike, trace]`` pairs: while the running value is a pair, an OTTT
    neuron (``sj.neuron.OTTTLIFNode``) receives the spike, a module with parameters is applied as
    :class:`GradwithTrace` and a parameter-free one as :class:`SpikeTraceOp`; tensors go through modules as usual."""

    def forward(self, x):
        for module in self:
            if isinstance(x, list):
                if _is_ottt_neuron(module):
                    x = module(x[0])
                elif next(module.parameters(), None) is None:
                    x = spike_and_trace(module, x)
                else:
                    x = grad_with_trace(module, x)
            else:
                x = module(x)
        return x
