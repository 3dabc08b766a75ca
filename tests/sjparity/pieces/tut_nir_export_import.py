# ruff: noqa
"""Tutorial nir_exchange: the tutorial's mixed network (layer.Conv2d, IFNode, nn.AvgPool2d, layer.Flatten, nn.Linear,
ParametricLIFNode) exported with export_to_nir to example.h5, imported back with import_from_nir in single-step mode
and run; shrunk to 8×8 images (the Linear's input follows), batch 3. SJ 2.0.0's exporter refuses the
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
print(graph)

gm = nir_exchange.import_from_nir(graph="./example.h5", dt=1e-4)
print(gm)
x = torch.rand(9, 3, 8, 8) * 4  # [B, C, H, W]
y = gm(x) # forward pass
print("y.shape =", y[0].shape) # y is a tuple; the 2nd element is each layer's state
y2 = gm(x, y[1])

result = {"nodes": sorted(graph.nodes), "edges": sorted(map(list, graph.edges)), "y": y[0], "y2": y2[0],
          "conv": graph.nodes["_0"].weight, "affine": graph.nodes["_4"].weight}
