# ruff: noqa
"""Tutorial neuron, "Custom Spiking Neurons": a Square-Integrated-and-Fire neuron by subclassing SimpleBaseNode,
single- and multi-step."""
import torch
from spikingjelly.activation_based import neuron

class SquareIFNode(neuron.SimpleBaseNode):
    def neuronal_charge(self, x: torch.Tensor):
        self.v = self.v + x.square()

sif_layer = SquareIFNode()

T = 4
N = 1
x_seq = torch.rand([T, N])
print(f'x_seq={x_seq}')

v = []
for t in range(T):
    yt = sif_layer(x_seq[t])
    print(f'sif_layer.v[{t}]={sif_layer.v}')
    v.append(sif_layer.v)

sif_layer.reset()
sif_layer.step_mode = 'm'
y_seq = sif_layer(x_seq)
print(f'y_seq={y_seq}')
sif_layer.reset()

result = {"v": v, "y_seq": y_seq}
