# ruff: noqa
"""ANN2SNN example cnn_mnist, --plot-mode-sweep (tutorial ann2snn, "Comparison of different converting modes"):
RateCodingRecipe with mode "max", "99.9%", 1/2, 1/3, 1/4, 1/5, accuracy per time step. Instead of the downloaded
checkpoint and MNIST: the sample CNN after 2 Adam steps on 12 synthetic images, 6 test images, 4 time steps."""
import copy

import numpy as np
import torch

from spikingjelly.activation_based import ann2snn, functional
from spikingjelly.activation_based.ann2snn.sample_models import mnist_cnn


def val(net, device, data_loader, T=None):
    net.eval().to(device)
    correct = 0.0
    total = 0.0
    if T is not None:
        corrects = np.zeros(T)
    with torch.no_grad():
        for batch, (img, label) in enumerate(data_loader):
            img = img.to(device, non_blocking=True)
            label = label.to(device, non_blocking=True)
            if T is None:
                out = net(img)
                correct += (out.argmax(dim=1) == label).float().sum().item()
            else:
                functional.reset_net(net)
                out = None
                for t in range(T):
                    step = net(img)
                    out = step if out is None else out + step
                    corrects[t] += (out.argmax(dim=1) == label).float().sum().item()
            total += out.shape[0]
    return correct / total if T is None else corrects / total


def convert_and_eval(recipe, device, ann_model, test_data_loader, time_steps):
    model_converter = ann2snn.FXConverter(recipe=recipe, device=device)
    snn_model = model_converter.convert(copy.deepcopy(ann_model))
    return val(snn_model, device, test_data_loader, T=time_steps)


device = "cpu"
time_steps = 4
train_data_dataset = torch.utils.data.TensorDataset(torch.rand([12, 1, 28, 28]), torch.randint(0, 10, [12]))
test_data_dataset = torch.utils.data.TensorDataset(torch.rand([6, 1, 28, 28]), torch.randint(0, 10, [6]))
calibration_data_loader = torch.utils.data.DataLoader(dataset=train_data_dataset, batch_size=6, shuffle=False)
test_data_loader = torch.utils.data.DataLoader(dataset=test_data_dataset, batch_size=3, shuffle=False)

model = mnist_cnn.CNN().to(device)
loss_function = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4)
model.train()
for img, label in calibration_data_loader:
    optimizer.zero_grad()
    loss = loss_function(model(img), label)
    loss.backward()
    optimizer.step()

accs = {}
for mode in ["max", "99.9%", 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 5]:
    accs[str(mode)] = convert_and_eval(
        ann2snn.RateCodingRecipe(dataloader=calibration_data_loader, mode=mode),
        device,
        model,
        test_data_loader,
        time_steps,
    )

result = {"accs": accs}
