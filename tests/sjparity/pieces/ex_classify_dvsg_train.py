# ruff: noqa
"""Example classify_dvsg (activation_based/examples/classify_dvsg.py; tutorial classify_dvsg): DVSGestureNet with LIF
neurons, ATan and detach_reset, multi-step mode, frames transposed to [T, N, C, H, W], MSE on firing rates with
Adam, then evaluation; shrunk to channels = 4, T = 2, 2 batches of 2 synthetic 128×128 frames (DVS128Gesture needs
torchvision here: the frames are random counts, its import line stays)."""
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, surrogate, neuron
from spikingjelly.activation_based.model import parametric_lif_net
from spikingjelly.datasets.dvs128_gesture import DVS128Gesture


class args:  # the example's arguments, shrunk
    T = 2
    device = "cpu"
    b = 2
    lr = 0.001
    channels = 4


net = parametric_lif_net.DVSGestureNet(
    channels=args.channels,
    spiking_neuron=neuron.LIFNode,
    surrogate_function=surrogate.ATan(),
    detach_reset=True,
)
functional.set_step_mode(net, "m")
optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)

frames = torch.randint(0, 3, [6, args.T, 2, 128, 128]).float()  # [N, T, C, H, W], as DataLoader packs them
labels = torch.randint(0, 11, [6])
train_data_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(frames[:4], labels[:4]),
                                                batch_size=args.b, shuffle=True, drop_last=True)
test_data_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(frames[4:], labels[4:]),
                                               batch_size=args.b, shuffle=False, drop_last=False)
losses = []
net.train()
for frame, label in train_data_loader:
    optimizer.zero_grad()
    frame = frame.to(args.device)
    frame = frame.transpose(0, 1)  # [N, T, C, H, W] -> [T, N, C, H, W]
    label = label.to(args.device)
    label_onehot = F.one_hot(label, 11).float()
    out_fr = net(frame).mean(0)
    loss = F.mse_loss(out_fr, label_onehot)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    functional.reset_net(net)

net.eval()
test_out = []
with torch.no_grad():
    for frame, label in test_data_loader:
        frame = frame.to(args.device)
        frame = frame.transpose(0, 1)  # [N, T, C, H, W] -> [T, N, C, H, W]
        out_fr = net(frame).mean(0)
        test_out.append(out_fr)
        functional.reset_net(net)

result = {"losses": losses, "test_out": test_out, "params": {k: v for k, v in net.named_parameters()}}
