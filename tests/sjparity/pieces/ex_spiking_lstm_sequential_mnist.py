# ruff: noqa
"""Example spiking_lstm_sequential_mnist (activation_based/examples/spiking_lstm_sequential_mnist.py): rnn.SpikingLSTM
over image rows ([28, N, 28]), MSE on one-hot labels with Adam, then evaluation; shrunk to 64 hidden units (the
example uses 1024), 2 batches of 4 synthetic images."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from spikingjelly.activation_based import rnn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = rnn.SpikingLSTM(28, 64, 1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x, _ = self.lstm(x)
        return self.fc(x[-1])


device = "cpu"
learning_rate = 1e-3
train_data_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.rand([8, 1, 28, 28]), torch.randint(0, 10, [8])),
    batch_size=4, shuffle=True, drop_last=True)
net = Net().to(device)
optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
losses = []
net.train()
for img, label in train_data_loader:
    img = img.to(device)  # [N, 1, 28, 28]
    label = label.to(device)
    label_one_hot = F.one_hot(label, 10).float()
    img.squeeze_()  # [N, 28, 28]
    img = img.permute(1, 0, 2)  # [28, N, 28]
    optimizer.zero_grad()
    out_spikes_counter_frequency = net(img)
    loss = F.mse_loss(out_spikes_counter_frequency, label_one_hot)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

net.eval()
with torch.no_grad():
    img = torch.rand([3, 1, 28, 28])
    img.squeeze_()  # [N, 28, 28]
    img = img.permute(1, 0, 2)  # [28, N, 28]
    out = net(img)

result = {"losses": losses, "out": out, "params": {k: v for k, v in net.named_parameters()}}
