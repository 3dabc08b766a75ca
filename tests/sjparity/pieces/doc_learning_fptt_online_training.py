# ruff: noqa
"""Docstring of learning.online_learning.fptt_online_training: forward-propagation-through-time training of a small IF
network for 2 epochs with the running-average weights of fptt_online_training_init_w_ra."""
import torch
from torch import nn
from torch.nn import functional as F
from spikingjelly.activation_based import functional, neuron
from spikingjelly.activation_based.learning.online_learning import (
    fptt_online_training,
    fptt_online_training_init_w_ra,
)

net = nn.Sequential(
    nn.Linear(8, 4), neuron.IFNode(), nn.Linear(4, 2), neuron.IFNode()
)

optimizer = torch.optim.SGD(net.parameters(), lr=0.1)

T = 4
N = 2
w_ra = fptt_online_training_init_w_ra(optimizer)
for epoch in range(2):
    x_seq = torch.rand([T, N, 8])
    target_seq = torch.rand([T, N, 2])

    fptt_online_training(
        model=net,
        optimizer=optimizer,
        x_seq=x_seq,
        target_seq=target_seq,
        f_loss_t=F.mse_loss,
        alpha=0.1,
        w_ra=w_ra,
    )
    functional.reset_net(net)

result = {"params": {k: v for k, v in net.named_parameters()}, "w_ra": w_ra}
