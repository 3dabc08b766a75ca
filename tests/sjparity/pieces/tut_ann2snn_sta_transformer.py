# ruff: noqa
"""Tutorial ann2snn_transformer, "STA": STATransformerRecipe(mode="spiking_encoder", threshold_mode="mse") on a transformer
MLP block (the tutorial converts ViT-B/16), calibrated on 8 synthetic samples, run in single-step mode on
the [x, 0, 0, ...] differential sequence and in multi-step mode."""
import torch
import torch.nn as nn
from spikingjelly.activation_based import ann2snn, functional


class Classifier(nn.Module):  # a transformer MLP block (STA's step-mode backend rejects matmul attention)
    def __init__(self, d=8):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 2 * d)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(2 * d, d)
        self.head = nn.Linear(d, 2)

    def forward(self, x):
        x = x + self.fc2(self.act(self.fc1(self.norm(x))))
        return self.head(x)


model = Classifier().eval()
calibration_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn([8, 5, 8])), batch_size=4)
x = torch.randn([2, 5, 8])

recipe = ann2snn.STATransformerRecipe(
    dataloader=calibration_loader,
    time_steps=8,
    mode="spiking_encoder",
    threshold_mode="mse",
    threshold_scale=0.5,
)
converted = ann2snn.Converter(recipe=recipe, device="cpu").convert(model)
converted.eval()

with torch.no_grad():
    functional.set_step_mode(converted, "s")
    functional.reset_net(converted)

    y = None
    for t in range(converted.time_steps):
        x_t = x if t == 0 else torch.zeros_like(x)
        y_t = converted(x_t)
        y = y_t if y is None else y + y_t

    functional.set_step_mode(converted, "m")
    functional.reset_net(converted)

    x_zeros = torch.zeros_like(x).expand(converted.time_steps - 1, *x.shape)
    x_seq = torch.cat((x.unsqueeze(0), x_zeros), dim=0)
    y_seq = converted(x_seq)
    y_m = y_seq.sum(dim=0)

result = {"y": y, "y_m": y_m}
