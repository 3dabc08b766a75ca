# ruff: noqa
"""Example plasticity/stdp_trace (activation_based/examples/plasticity/stdp_trace.py): STDPLearner on a 4→3 Linear +
IF layer, batch 2, single-step, SGD on the written gradients with weight clamping, then learner.close();
the plotting is left out."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import neuron, layer, learning


def f_weight(x):
    return torch.clamp(x, -1, 1.0)


torch.manual_seed(0)
w_min, w_max = -1.0, 1.0
tau_pre, tau_post = 2.0, 2.0
N_in, N_out = 4, 3
T = 128
batch_size = 2
lr = 0.01
net = nn.Sequential(layer.Linear(N_in, N_out, bias=False), neuron.IFNode())
nn.init.constant_(net[0].weight.data, 0.4)
optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.0)

in_spike = (torch.rand([T, batch_size, N_in]) > 0.7).float()
learner = learning.STDPLearner(
    step_mode="s",
    synapse=net[0],
    sn=net[1],
    tau_pre=tau_pre,
    tau_post=tau_post,
    f_pre=f_weight,
    f_post=f_weight,
)

out_spike = []
trace_pre = []
trace_post = []
weight = []
with torch.no_grad():
    for t in range(T):
        optimizer.zero_grad()
        out_spike.append(net(in_spike[t]))
        learner.step(on_grad=True)
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
