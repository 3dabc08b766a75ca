# ruff: noqa
"""Tutorial nir_exchange, the note on import_from_nir's step_mode: the exported graph imported as a multi-step model
and run on [T, B, C, H, W]; shrunk to 8×8 images, T = 4, batch 3. SJ 2.0.0's exporter refuses the
tutorial's soft-reset PLIF (v_reset=None: "NIR does not distinguish soft reset"), so the PLIF keeps the default
hard reset."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import layer, neuron
from spikingjelly.activation_based import nir_exchange

net = nn.Sequential(
    layer.Conv2d(3, 16, 3, 1, 1, step_mode="s"),
    neuron.IFNode(),
    nn.AvgPool2d((2, 2)),
    layer.Flatten(step_mode="s"),
    nn.Linear(256, 10),
    neuron.ParametricLIFNode(10., decay_input=False),
)

graph = nir_exchange.export_to_nir(
    net,
    example_input=torch.rand(8, 3, 8, 8),
    save_path="./example.h5",
    dt=1e-4
)

gm = nir_exchange.import_from_nir(
    "./example.h5", dt=1e-4, step_mode="m"
)
print(gm)
x = torch.rand(4, 3, 3, 8, 8) * 4 # [T, B, C, H, W]
y = gm(x)
print("y.shape =", y[0].shape)

result = {"y": y[0]}
