# ruff: noqa
"""Tutorial ann2snn, "Implementation and optional configuration": the minimal rate-coding conversion, then the converted
SNN run in single-step mode (time loop written out) and in multi-step mode on the time-expanded input; the sample MNIST
CNN with BatchNorm statistics from 2 training-mode passes over 16 synthetic images, T = 6."""
import torch
from spikingjelly.activation_based import ann2snn
from spikingjelly.activation_based.ann2snn.sample_models import mnist_cnn

ann = mnist_cnn.CNN()
images = torch.rand([16, 1, 28, 28])
train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.zeros(16)), batch_size=8)
with torch.no_grad():
    for img, _ in train_loader:
        ann(img)
ann.eval()
T = 6
x = images[:4]

recipe = ann2snn.RateCodingRecipe(dataloader=train_loader, mode="max")
snn = ann2snn.Converter(recipe=recipe).convert(ann)

from spikingjelly.activation_based import functional

functional.set_step_mode(snn, "s")
functional.reset_net(snn)
y = None
for t in range(T):
    y_t = snn(x)
    y = y_t if y is None else y + y_t

functional.set_step_mode(snn, "m")
functional.reset_net(snn)
x_seq = x.unsqueeze(0).expand(T, *x.shape)
y_seq = snn(x_seq)
y_m = y_seq.sum(dim=0)

result = {"y_single_step": y, "y_multi_step": y_m, "y_seq": y_seq,
          "params": {k: v for k, v in snn.named_parameters()}}
