# ruff: noqa
"""Tutorial container: StepModeContainer(True, IFNode()) in both step modes, reset between them.
The tutorial calls ``StepModeContainer(stateful, *modules)``; SJ 2.0.0's signature is ``(stateful, step_mode, *args)``,
so ``'s'`` is passed (the tutorial's call fails on SJ 2.0.0 itself)."""
import torch
from spikingjelly.activation_based import neuron, layer, functional


with torch.no_grad():
    T = 4
    N = 2
    C = 4
    H = 8
    W = 8
    x_seq = torch.rand([T, N, C, H, W])
    net = layer.StepModeContainer(
        True, 's',
        neuron.IFNode()
    )
    net.step_mode = 'm'
    y_seq = net(x_seq)
    # y_seq.shape = [T, N, C, H, W]
    functional.reset_net(net)

    net.step_mode = 's'
    y = net(x_seq[0])
    # y.shape = [N, C, H, W]
    functional.reset_net(net)

result = {"y_seq": y_seq, "y": y}
