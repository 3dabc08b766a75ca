# ruff: noqa
"""Example conv_fashion_mnist (activation_based/examples/conv_fashion_mnist.py; tutorial conv_fashion_mnist): the CSNN
in multi-step mode, its training loop (MSE on firing rates, SGD with momentum, cosine schedule) and evaluation loop,
shrunk: channels = 4, T = 2, 2 batches of 4 synthetic 28×28 images, no AMP, no TensorBoard."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.data as data
from spikingjelly.activation_based import neuron, functional, surrogate, layer


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
        # x.shape = [N, C, H, W]
        x_seq = x.unsqueeze(0).expand(
            self.T, -1, -1, -1, -1
        )  # [N, C, H, W] -> [T, N, C, H, W]
        x_seq = self.conv_fc(x_seq)
        fr = x_seq.mean(0)
        return fr

    def spiking_encoder(self):
        return self.conv_fc[0:3]


class args:  # the example's argparse defaults, shrunk
    T = 2
    device = "cpu"
    b = 4
    epochs = 1
    opt = "sgd"
    momentum = 0.9
    lr = 0.1
    channels = 4


train_set = data.TensorDataset(torch.rand([8, 1, 28, 28]), torch.randint(0, 10, [8]))
test_set = data.TensorDataset(torch.rand([4, 1, 28, 28]), torch.randint(0, 10, [4]))
train_data_loader = data.DataLoader(dataset=train_set, batch_size=args.b, shuffle=True, drop_last=True)
test_data_loader = data.DataLoader(dataset=test_set, batch_size=args.b, shuffle=True, drop_last=False)

net = CSNN(T=args.T, channels=args.channels)
net.to(args.device)
optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.epochs)
losses = []

for epoch in range(0, args.epochs):
    net.train()
    train_loss = 0
    train_acc = 0
    train_samples = 0
    for img, label in train_data_loader:
        optimizer.zero_grad()
        img = img.to(args.device)
        label = label.to(args.device)
        label_onehot = F.one_hot(label, 10).float()

        out_fr = net(img)
        loss = F.mse_loss(out_fr, label_onehot)
        loss.backward()
        optimizer.step()

        train_samples += label.numel()
        train_loss += loss.item() * label.numel()
        train_acc += (out_fr.argmax(1) == label).float().sum().item()
        losses.append(loss.item())

        functional.reset_net(net)

    lr_scheduler.step()

    net.eval()
    test_loss = 0
    test_acc = 0
    test_samples = 0
    with torch.no_grad():
        for img, label in test_data_loader:
            img = img.to(args.device)
            label = label.to(args.device)
            label_onehot = F.one_hot(label, 10).float()
            out_fr = net(img)
            loss = F.mse_loss(out_fr, label_onehot)

            test_samples += label.numel()
            test_loss += loss.item() * label.numel()
            test_acc += (out_fr.argmax(1) == label).float().sum().item()
            functional.reset_net(net)

params = {k: v for k, v in net.named_parameters()}
buffers = {k: v for k, v in net.named_buffers() if "running" in k}
result = {"losses": losses, "test_loss": test_loss, "test_acc": test_acc, "params": params, "bn": buffers}
