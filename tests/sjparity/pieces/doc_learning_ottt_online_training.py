# ruff: noqa
"""Docstring of learning.online_learning.ottt_online_training: online training through time of an OTTTSequential
with an OTTTLIFNode, for 2 epochs."""
import torch
from torch import nn
from torch.nn import functional as F
from spikingjelly.activation_based import functional, neuron, layer
from spikingjelly.activation_based.learning import online_learning

net = layer.OTTTSequential(
    nn.Linear(8, 4), neuron.OTTTLIFNode(), nn.Linear(4, 2), neuron.LIFNode()
)

optimizer = torch.optim.SGD(net.parameters(), lr=0.1)

T = 4
N = 2
online = True
losses = []
for epoch in range(2):
    x_seq = torch.rand([N, T, 8])
    target_seq = torch.rand([N, T, 2])

    out = online_learning.ottt_online_training(
        model=net,
        optimizer=optimizer,
        x_seq=x_seq,
        target_seq=target_seq,
        f_loss_t=F.mse_loss,
        online=online,
    )
    losses.append(out)
    functional.reset_net(net)

result = {"params": {k: v for k, v in net.named_parameters()}, "out": losses}
