# ruff: noqa
"""ANN2SNN example cnn_mnist (activation_based/ann2snn/examples/cnn_mnist.py; tutorial ann2snn, "Classify MNIST" and
"Conversion recipe comparison"): val, convert_and_eval and the recipe comparison (RateCodingRecipe with RobustNorm
and LocalThresholdBalancingRecipe through FXConverter). Instead of the downloaded checkpoint and MNIST: the sample CNN
after 2 Adam steps on 12 synthetic 28×28 images, calibration on them, 6 test images, 4 time steps."""
import copy

import numpy as np
import torch
from tqdm import tqdm

from spikingjelly.activation_based import ann2snn, functional
from spikingjelly.activation_based.ann2snn.sample_models import mnist_cnn


def val(net, device, data_loader, T=None):
    net.eval().to(device)
    if T is not None and T <= 0:
        raise ValueError("T must be positive.")
    correct = 0.0
    total = 0.0
    if T is not None:
        corrects = np.zeros(T)
    with torch.no_grad():
        for batch, (img, label) in enumerate(tqdm(data_loader, disable=True)):
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
calibration_data_loader = torch.utils.data.DataLoader(dataset=train_data_dataset, batch_size=6, shuffle=False,
                                                      drop_last=False)
test_data_loader = torch.utils.data.DataLoader(dataset=test_data_dataset, batch_size=3, shuffle=False,
                                               drop_last=False)

# the example's commented-out training of the checkpoint, 3 steps
model = mnist_cnn.CNN().to(device)
loss_function = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4)
model.train()
for img, label in calibration_data_loader:
    optimizer.zero_grad()
    out = model(img.to(device))
    loss = loss_function(out, label.to(device))
    loss.backward()
    optimizer.step()

results = {}
ann_acc = val(model, device, test_data_loader)
results["ann"] = ann_acc
robust_accs = convert_and_eval(
    ann2snn.RateCodingRecipe(
        dataloader=calibration_data_loader,
        mode="99.9%",
    ),
    device,
    model,
    test_data_loader,
    time_steps,
)
results["robust_scalar"] = robust_accs
ltb_accs = convert_and_eval(
    ann2snn.LocalThresholdBalancingRecipe(
        dataloader=calibration_data_loader,
    ),
    device,
    model,
    test_data_loader,
    time_steps,
)
results["ltb"] = ltb_accs

snn = ann2snn.Converter(recipe=ann2snn.RateCodingRecipe(dataloader=calibration_data_loader, mode="99.9%")).convert(
    copy.deepcopy(model))
snn.eval()
functional.reset_net(snn)
with torch.no_grad():
    x = test_data_dataset.tensors[0][:3]
    outputs = [snn(x) for t in range(time_steps)]

result = {"results": results, "outputs": outputs}
