# ruff: noqa
"""Tutorial train_large_scale_snn, "Using the model zoo": spiking_resnet18 with IF neurons, ATan and detach_reset
passed through, run in multi-step mode; shrunk to 32×32 images and T = 2 (the tutorial uses 224×224, T = 4)."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import surrogate, neuron, functional
from spikingjelly.activation_based.model import spiking_resnet

s_resnet18 = spiking_resnet.spiking_resnet18(pretrained=False, spiking_neuron=neuron.IFNode, surrogate_function=surrogate.ATan(), detach_reset=True)

print(f's_resnet18={s_resnet18}')

with torch.no_grad():
    T = 2
    N = 1
    x_seq = torch.rand([T, N, 3, 32, 32])
    functional.set_step_mode(s_resnet18, 'm')
    y_seq = s_resnet18(x_seq)
    print(f'y_seq.shape={y_seq.shape}')
    functional.reset_net(s_resnet18)

result = {"y_seq": y_seq, "fc": s_resnet18.fc.weight}
