# ruff: noqa
"""ANN2SNN example resnet18_cifar10 (activation_based/ann2snn/examples/resnet18_cifar10.py): val and the conversion of
the sample CIFAR-10 ResNet-18 with RateCodingRecipe(mode="Max"). Instead of the downloaded checkpoint and CIFAR-10:
BatchNorm statistics from one training-mode pass over 4 synthetic 32×32 images (the calibration set), 2 test images,
T = 3 (the example uses 400)."""
import torch
from tqdm import tqdm
import spikingjelly.activation_based.ann2snn as ann2snn
import spikingjelly.activation_based.functional as functional
from spikingjelly.activation_based.ann2snn.sample_models import cifar10_resnet


def val(net, device, data_loader, T=None):
    net.eval().to(device)
    if T is not None and T <= 0:
        raise ValueError(f"T must be positive, got {T}.")
    correct = 0.0
    total = 0.0
    outs = []
    with torch.no_grad():
        for batch, (img, label) in enumerate(tqdm(data_loader, disable=True)):
            img = img.to(device)
            label = label.to(device)
            if T is None:
                out = net(img)
            else:
                functional.reset_net(net)
                out = net(img)
                for t in range(1, T):
                    out += net(img)
            correct += (out.argmax(dim=1) == label).float().sum().item()
            total += out.shape[0]
            outs.append(out)
        acc = correct / total
        print("Validating Accuracy: %.3f" % (acc))
    return acc, outs


device = "cpu"
T = 3
model = cifar10_resnet.ResNet18()
train_data_dataset = torch.utils.data.TensorDataset(torch.randn([4, 3, 32, 32]), torch.randint(0, 10, [4]))
test_data_dataset = torch.utils.data.TensorDataset(torch.randn([2, 3, 32, 32]), torch.randint(0, 10, [2]))
with torch.no_grad():
    model.train()(train_data_dataset.tensors[0])  # BatchNorm statistics instead of the checkpoint's
train_data_loader = torch.utils.data.DataLoader(dataset=train_data_dataset, batch_size=2, shuffle=True,
                                                drop_last=False)
test_data_loader = torch.utils.data.DataLoader(dataset=test_data_dataset, batch_size=2, shuffle=False,
                                               drop_last=False)
ann_acc, ann_outs = val(model, device, test_data_loader)
model_converter = ann2snn.Converter(
    recipe=ann2snn.RateCodingRecipe(dataloader=train_data_loader, mode="Max"),
    device=device,
)
snn_model = model_converter.convert(model)
snn_acc, snn_outs = val(snn_model, device, test_data_loader, T=T)

result = {"ann_outs": ann_outs, "snn_outs": snn_outs, "ann_acc": ann_acc, "snn_acc": snn_acc}
