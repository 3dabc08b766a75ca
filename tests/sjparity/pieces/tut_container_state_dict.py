# ruff: noqa
"""Tutorial container: containers prefix state_dict keys; layer.Conv2d keeps an ANN's keys, so the ANN's state_dict
loads into the SNN and not into the container version."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import functional, layer, neuron


ann = nn.Sequential(
    nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False),
    nn.BatchNorm2d(8),
    nn.ReLU()
)

print(f'ann.state_dict.keys()={ann.state_dict().keys()}')

net_container = nn.Sequential(
    layer.SeqToANNContainer(
        nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(8),
    ),
    neuron.IFNode(step_mode='m')
)
print(f'net_container.state_dict.keys()={net_container.state_dict().keys()}')

net_origin = nn.Sequential(
    layer.Conv2d(3, 8, kernel_size=3, padding=1, bias=False),
    nn.BatchNorm2d(8),
    neuron.IFNode(step_mode='m')
)
print(f'net_origin.state_dict.keys()={net_origin.state_dict().keys()}')

loaded = []
try:
    print('net_container is trying to load state dict from ann...')
    net_container.load_state_dict(ann.state_dict())
    print('Load success!')
    loaded.append(True)
except BaseException as e:
    print('net_container can not load! The error message is\n', e)
    loaded.append(False)

try:
    print('net_origin is trying to load state dict from ann...')
    net_origin.load_state_dict(ann.state_dict())
    print('Load success!')
    loaded.append(True)
except BaseException as e:
    print('net_origin can not load! The error message is', e)
    loaded.append(False)

result = {"loaded": loaded, "container_keys": list(net_container.state_dict().keys()),
          "origin_keys": list(net_origin.state_dict().keys()), "origin_conv": net_origin[0].weight}
