# ruff: noqa
"""Example speech_commands (activation_based/examples/speech_commands.py): its Net (Conv2d + LIFWrapper(LIFNode in step
mode 'm') ×3, dilated convolutions, a linear read-out averaged over time) and two training steps with Adam and
cross-entropy; synthetic log-mel features [N, 1, T, 40] (the dataset needs torchaudio), T = 10, batch 2, 12 labels.
Docstrings of the two classes are left out (ast-extracted)."""
import torch
from torch import nn
from torch.optim import Adam
from spikingjelly.activation_based import neuron, surrogate
from spikingjelly.activation_based.functional import reset_net
from spikingjelly.datasets.speechcommands import SPEECHCOMMANDS

label_cnt = 12
n_mels = 40
delta_order = 0


class LIFWrapper(nn.Module):

    def __init__(self, module, flatten=False):
        super().__init__()
        self.module = module
        self.flatten = flatten

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        y_seq = self.module(x_seq.transpose(0, 2))
        if self.flatten:
            y_seq = y_seq.permute(2, 0, 1, 3)
            shape = y_seq.shape[:2]
            return y_seq.reshape(shape + (-1,))
        else:
            return y_seq.transpose(0, 2)


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.train_times = 0
        self.epochs = 0
        self.max_test_acccuracy = 0
        self.conv = nn.Sequential(nn.Conv2d(in_channels=delta_order + 1, out_channels=64, kernel_size=(4, 3), stride=1, padding=(2, 1), bias=False), LIFWrapper(neuron.LIFNode(tau=10.0 / 7, surrogate_function=surrogate.Sigmoid(alpha=10.0), step_mode='m')), nn.Conv2d(in_channels=64, out_channels=64, kernel_size=(4, 3), stride=1, padding=(6, 3), dilation=(4, 3), bias=False), LIFWrapper(neuron.LIFNode(tau=10.0 / 7, surrogate_function=surrogate.Sigmoid(alpha=10.0), step_mode='m')), nn.Conv2d(in_channels=64, out_channels=64, kernel_size=(4, 3), stride=1, padding=(24, 9), dilation=(16, 9), bias=False), LIFWrapper(neuron.LIFNode(tau=10.0 / 7, surrogate_function=surrogate.Sigmoid(alpha=10.0), step_mode='m'), flatten=True))
        self.fc = nn.Linear(64 * 40, label_cnt)

    def forward(self, x):
        x = self.fc(self.conv(x))
        return x.mean(dim=1)


device = "cpu"
net = Net().to(device)
optimizer = Adam(net.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss().to(device)
losses, outputs = [], []
net.train()
for audios, labels in [(torch.rand([2, 1, 10, 40]) * 2, torch.tensor([1, 7])),
                       (torch.rand([2, 1, 10, 40]) * 2, torch.tensor([3, 0]))]:
    audios = audios.to(device, non_blocking=True)
    labels = labels.to(device, non_blocking=True)

    optimizer.zero_grad()

    out_spikes_counter_frequency = net(audios)

    loss = criterion(out_spikes_counter_frequency, labels)
    loss.backward()

    optimizer.step()

    reset_net(net)

    net.train_times += 1
    losses.append(loss.item())
    outputs.append(out_spikes_counter_frequency)

result = {"losses": losses, "outputs": outputs, "params": {k: v for k, v in net.named_parameters()}}
