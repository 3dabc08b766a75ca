# ruff: noqa
"""Tutorial neuron, "Spiking Neuron Modules": v is 0.0 until the first input, then takes the input's shape."""
import torch
from spikingjelly.activation_based import neuron
from spikingjelly import visualizing
from matplotlib import pyplot as plt

if_layer = neuron.IFNode()
print(if_layer.v)
v_init = if_layer.v

shapes = []
x = torch.rand(size=[2, 3])
if_layer(x)
print(f'x.shape={x.shape}, if_layer.v.shape={if_layer.v.shape}')
shapes.append(list(if_layer.v.shape))
v_a = if_layer.v
if_layer.reset()

x = torch.rand(size=[4, 5, 6])
if_layer(x)
print(f'x.shape={x.shape}, if_layer.v.shape={if_layer.v.shape}')
shapes.append(list(if_layer.v.shape))
v_b = if_layer.v
if_layer.reset()

result = {"v_init": v_init, "shapes": shapes, "v_a": v_a, "v_b": v_b, "v_after_reset": if_layer.v}
