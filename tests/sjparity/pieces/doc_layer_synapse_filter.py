# ruff: noqa
"""Docstring of layer.SynapseFilter: a low-pass synapse (tau = 10) filtering 50 steps of sparse input spikes, plotted.
The docstring calls the class by its old name LowPassSynapse, which SJ 2.0 does not have: SynapseFilter here."""
import torch
from matplotlib import pyplot
from spikingjelly.activation_based.layer import SynapseFilter

T = 50
in_spikes = (torch.rand(size=[T]) >= 0.95).float()
lp_syn = SynapseFilter(tau=10.0)
pyplot.subplot(2, 1, 1)
pyplot.bar(torch.arange(0, T).tolist(), in_spikes, label="in spike")
pyplot.xlabel("t")
pyplot.ylabel("spike")
pyplot.legend()

out_i = []
for i in range(T):
    out_i.append(lp_syn(in_spikes[i]))
pyplot.subplot(2, 1, 2)
pyplot.plot(out_i, label="out i")
pyplot.xlabel("t")
pyplot.ylabel("i")
pyplot.legend()
pyplot.show()

result = {"in_spikes": in_spikes, "out_i": out_i}
