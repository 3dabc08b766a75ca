# ruff: noqa
"""Tutorial migrate_from_legacy: the new-version code — a network of layer.Conv2d, layer.BatchNorm2d and IFNode run
step by step with multi_step_forward (the default step mode 's'), then layer by layer after set_step_mode('m'); and
LIFNode(step_mode='m') replacing the legacy MultiStepLIFNode."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import neuron, layer, functional

lif = neuron.LIFNode(step_mode='m')

with torch.no_grad():

    T = 4
    N = 2
    C = 4
    H = 8
    W = 8
    x_seq = torch.rand([T, N, C, H, W])

    # the network uses step-by-step because step_mode='s' is the default value for all modules
    net = nn.Sequential(
        layer.Conv2d(C, C, kernel_size=3, padding=1, bias=False),
        layer.BatchNorm2d(C),
        neuron.IFNode()
    )
    y_seq = functional.multi_step_forward(x_seq, net)
    # y_seq.shape = [T, N, C, H, W]
    functional.reset_net(net)
    y_seq_step_by_step = y_seq

    # set the network to use layer-by-layer
    functional.set_step_mode(net, step_mode='m')
    y_seq = net(x_seq)
    # y_seq.shape = [T, N, C, H, W]
    functional.reset_net(net)

    z_seq = lif(x_seq * 3)

result = {"step_by_step": y_seq_step_by_step, "layer_by_layer": y_seq, "lif": z_seq, "lif_mode": lif.step_mode,
          "bn": {k: v for k, v in net[1].named_buffers() if "running" in k}}
