# ruff: noqa
"""Example lif_fc_mnist (activation_based/examples/lif_fc_mnist.py; tutorial lif_fc_mnist): the FC-LIF SNN, Poisson
encoding, the training loop (MSE on firing rates, Adam) and the evaluation loop, shrunk: T = 8, 2 batches of 4
synthetic 28×28 images, no AMP, no TensorBoard; then the example's recording of the output layer's v and spikes."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.data as data
import numpy as np

from spikingjelly.activation_based import neuron, encoding, functional, surrogate, layer


class SNN(nn.Module):
    def __init__(self, tau):
        super().__init__()

        self.layer = nn.Sequential(
            layer.Flatten(),
            layer.Linear(28 * 28, 10, bias=False),
            neuron.LIFNode(tau=tau, surrogate_function=surrogate.ATan()),
        )

    def forward(self, x: torch.Tensor):
        return self.layer(x)


class args:  # the example's argparse defaults, shrunk
    T = 8
    device = "cpu"
    b = 4
    epochs = 1
    lr = 1e-3
    tau = 2.0


images = torch.rand([8, 1, 28, 28])
labels = torch.randint(0, 10, [8])
train_dataset = data.TensorDataset(images, labels)
test_dataset = data.TensorDataset(images.flip(0), labels.flip(0))
train_data_loader = data.DataLoader(dataset=train_dataset, batch_size=args.b, shuffle=True, drop_last=True)
test_data_loader = data.DataLoader(dataset=test_dataset, batch_size=args.b, shuffle=False, drop_last=False)

net = SNN(tau=args.tau)
net.to(args.device)
optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
encoder = encoding.PoissonEncoder()
losses = []

for epoch in range(args.epochs):
    net.train()
    train_loss = 0
    train_acc = 0
    train_samples = 0
    for img, label in train_data_loader:
        optimizer.zero_grad()
        img = img.to(args.device)
        label = label.to(args.device)
        label_onehot = F.one_hot(label, 10).float()

        out_fr = 0.0
        for t in range(args.T):
            encoded_img = encoder(img)
            out_fr += net(encoded_img)
        out_fr = out_fr / args.T
        loss = F.mse_loss(out_fr, label_onehot)
        loss.backward()
        optimizer.step()

        train_samples += label.numel()
        train_loss += loss.item() * label.numel()
        train_acc += (out_fr.argmax(1) == label).float().sum().item()
        losses.append(loss.item())

        functional.reset_net(net)

    net.eval()
    test_loss = 0
    test_acc = 0
    test_samples = 0
    with torch.no_grad():
        for img, label in test_data_loader:
            img = img.to(args.device)
            label = label.to(args.device)
            out_fr = 0.0
            for t in range(args.T):
                encoded_img = encoder(img)
                out_fr += net(encoded_img)
            out_fr = out_fr / args.T
            label_onehot = F.one_hot(label, 10).float()
            loss = F.mse_loss(out_fr, label_onehot)

            test_samples += label.numel()
            test_loss += loss.item() * label.numel()
            test_acc += (out_fr.argmax(1) == label).float().sum().item()
            functional.reset_net(net)

net.eval()
output_layer = net.layer[-1]  # 输出层
output_layer.v_seq = []
output_layer.s_seq = []

def save_hook(m, x, y):
    m.v_seq.append(m.v.unsqueeze(0))
    m.s_seq.append(y.unsqueeze(0))

output_layer.register_forward_hook(save_hook)

with torch.no_grad():
    img, label = test_dataset[0]
    img = img.to(args.device)
    out_fr = 0.0
    for t in range(args.T):
        encoded_img = encoder(img)
        out_fr += net(encoded_img)
    out_spikes_counter_frequency = (out_fr / args.T).cpu().numpy()

    output_layer.v_seq = torch.cat(output_layer.v_seq)
    output_layer.s_seq = torch.cat(output_layer.s_seq)
    v_t_array = output_layer.v_seq.cpu().numpy().squeeze()
    s_t_array = output_layer.s_seq.cpu().numpy().squeeze()

result = {"losses": losses, "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc,
          "weight": net.layer[1].weight, "firing_rate": out_spikes_counter_frequency, "v": v_t_array, "s": s_t_array}
