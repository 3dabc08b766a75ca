# ruff: noqa
"""Example conv_fashion_mnist, its -save-es branch: the first {Conv2d-BatchNorm2d-IFNode} as a spiking encoder of a
test batch, each step's spikes drawn with visualizing.plot_2d_feature_map (channels = 8, T = 2, 2 images)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import matplotlib.pyplot as plt
from spikingjelly.activation_based import neuron, functional, surrogate, layer
from spikingjelly import visualizing


class CSNN(nn.Module):
    def __init__(self, T: int, channels: int):
        super().__init__()
        self.T = T

        self.conv_fc = nn.Sequential(
            layer.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
            layer.BatchNorm2d(channels),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.MaxPool2d(2, 2),  # 14 * 14
            layer.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            layer.BatchNorm2d(channels),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.MaxPool2d(2, 2),  # 7 * 7
            layer.Flatten(),
            layer.Linear(channels * 7 * 7, channels * 4 * 4, bias=False),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.Linear(channels * 4 * 4, 10, bias=False),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
        )

        functional.set_step_mode(self, step_mode="m")

    def forward(self, x: torch.Tensor):
        x_seq = x.unsqueeze(0).expand(self.T, -1, -1, -1, -1)
        x_seq = self.conv_fc(x_seq)
        fr = x_seq.mean(0)
        return fr

    def spiking_encoder(self):
        return self.conv_fc[0:3]


net = CSNN(T=2, channels=8)
net.eval()
img = torch.rand([2, 1, 28, 28])
label = torch.tensor([3, 7])
encoder = net.spiking_encoder()
spikes = []
with torch.no_grad():
    # img.shape = [N, C, H, W]
    img_seq = img.unsqueeze(0).expand(
        net.T, -1, -1, -1, -1
    )  # [N, C, H, W] -> [T, N, C, H, W]
    spike_seq = encoder(img_seq)
    functional.reset_net(encoder)

    img = F.interpolate(img, scale_factor=4, mode="bilinear")

    for i in range(label.shape[0]):
        for t in range(net.T):
            visualizing.plot_2d_feature_map(
                spike_seq[t][i],
                8,
                spike_seq.shape[2] // 8,
                2,
                f"$S[{t}]$",
            )
            plt.clf()

result = {"spike_seq": spike_seq, "img": img}
