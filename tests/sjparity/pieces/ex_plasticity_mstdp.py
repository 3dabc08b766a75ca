# ruff: noqa
"""Example plasticity/mstdp (activation_based/examples/plasticity/mstdp.py): reward-modulated STDP (MSTDPLearner) on a
4→3 Linear + IF layer, batch 2, a reward per step and sample, weight-dependent f_pre/f_post; plotting left out."""
from functools import partial

import torch
import torch.nn as nn
from spikingjelly.activation_based import neuron, layer, learning

torch.manual_seed(0)

def f_pre(x, w_min, alpha=0.0):
    return (x - w_min) ** alpha

def f_post(x, w_max, alpha=0.0):
    return (w_max - x) ** alpha

w_min, w_max = -1.0, 1.0
tau_pre, tau_post = 20.0, 20.0
N_in, N_out = 4, 3
T = 128
batch_size = 2
lr = 0.01
net = nn.Sequential(layer.Linear(N_in, N_out, bias=False), neuron.IFNode())
nn.init.constant_(net[0].weight.data, 0.4)
optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.0)
in_spike = (torch.rand([T, batch_size, N_in]) > 0.7).float()
reward = torch.rand([T, batch_size]) * 2 - 1
learner = learning.MSTDPLearner(
    step_mode="s",
    synapse=net[0],
    sn=net[1],
    tau_pre=tau_pre,
    tau_post=tau_post,
    f_pre=partial(f_pre, w_min=w_min),
    f_post=partial(f_post, w_max=w_max),
)
out_spike = []
trace_pre = []
trace_post = []
weight = []
with torch.no_grad():
    for t in range(T):
        optimizer.zero_grad()
        out_spike.append(net(in_spike[t]))
        learner.step(reward[t], on_grad=True)
        optimizer.step()
        net[0].weight.data.clamp_(w_min, w_max)
        weight.append(net[0].weight.data.clone())
        trace_pre.append(learner.trace_pre)
        trace_post.append(learner.trace_post)
out_spike = torch.stack(out_spike)  # [T, batch_size, N_out]
trace_pre = torch.stack(trace_pre)  # [T, batch_size, N_in]
trace_post = torch.stack(trace_post)  # [T, batch_size, N_out]
weight = torch.stack(weight)  # [T, N_out, N_in]
learner.close()

result = {"out_spike": out_spike, "trace_pre": trace_pre, "trace_post": trace_post, "weight": weight}
