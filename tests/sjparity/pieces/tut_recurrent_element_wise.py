# ruff: noqa
"""Tutorial recurrent_connection_and_stateful_synapse, "Self-connected Modules": an IF neuron wrapped by
ElementWiseRecurrentContainer with addition keeps firing after one input of 1.5."""
import torch
from spikingjelly.activation_based import layer, functional, neuron

T = 8
N = 1

def element_wise_add(x, y):
    return x + y

net = layer.ElementWiseRecurrentContainer(neuron.IFNode(), element_wise_add)
print(net)
x = torch.zeros([T, N])
x[0] = 1.5
s = []
for t in range(T):
    print(t, f'x[t]={x[t]}, s[t]={net(x[t])}')
    s.append(net.y)
functional.reset_net(net)

result = {"s": s}
