# ruff: noqa
"""Example rsnn_sequential_fmnist (activation_based/examples/rsnn_sequential_fmnist.py; tutorial
recurrent_connection_and_stateful_synapse), model "ss" (StatefulSynapseNet): images fed column by column ([W, N, H] as [T, N, H]),
multi-step mode, MSE on firing rates with Adam; shrunk to 2 batches of 4 synthetic 28×28 images."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.data as data
from spikingjelly.activation_based import neuron, surrogate, layer, functional


class PlainNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(
            layer.Linear(28, 32),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.Linear(32, 10),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
        )

    def forward(self, x: torch.Tensor):
        return self.fc(x).mean(0)


class StatefulSynapseNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(
            layer.Linear(28, 32),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.SynapseFilter(tau=2.0, learnable=True),
            layer.Linear(32, 10),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
        )

    def forward(self, x: torch.Tensor):
        return self.fc(x).mean(0)


class FeedBackNet(nn.Module):
    def __init__(self):
        super().__init__()

        self.fc = nn.Sequential(
            layer.Linear(28, 32),
            layer.LinearRecurrentContainer(
                neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
                in_features=32,
                out_features=32,
                bias=True,
            ),
            layer.Linear(32, 10),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
        )

    def forward(self, x: torch.Tensor):
        return self.fc(x).mean(0)


class args:  # the example's arguments, shrunk
    model = "ss"
    device = "cpu"
    b = 4
    lr = 0.001


train_set = data.TensorDataset(torch.rand([8, 1, 28, 28]), torch.randint(0, 10, [8]))
train_data_loader = data.DataLoader(dataset=train_set, batch_size=args.b, shuffle=True, drop_last=True)

if args.model == "plain":
    net = PlainNet()
elif args.model == "ss":
    net = StatefulSynapseNet()
elif args.model == "fb":
    net = FeedBackNet()

net.to(args.device)

# `functional.set_step_mode` will not set neurons in LinearRecurrentContainer to use step_mode = 'm'
functional.set_step_mode(net, step_mode="m")
optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
losses = []
outputs = []

net.train()
for img, label in train_data_loader:
    optimizer.zero_grad()
    img = img.to(args.device)
    label = label.to(args.device)
    # img.shape = [N, 1, H, W]
    img.squeeze_(1)  # [N, H, W]
    img = img.permute(2, 0, 1)  # [W, N, H]
    # we regard [W, N, H] as [T, N, H]
    label_onehot = F.one_hot(label, 10).float()

    out_fr = net(img)
    loss = F.mse_loss(out_fr, label_onehot)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    outputs.append(out_fr)

    functional.reset_net(net)

result = {"losses": losses, "outputs": outputs, "params": {k: v for k, v in net.named_parameters()}}
