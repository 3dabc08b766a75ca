# ruff: noqa
"""Docstring of datasets.utils.pad_sequence_collate: a variable-length dataset batched by a shuffling DataLoader with
the collate function (3 batches)."""
import torch
from spikingjelly.datasets.utils import pad_sequence_collate


class VariableLengthDataset(torch.utils.data.Dataset):
    def __init__(self, n=1000):
        super().__init__()
        self.n = n

    def __getitem__(self, i):
        return torch.rand([i + 1, 2]), self.n - i - 1

    def __len__(self):
        return self.n


loader = torch.utils.data.DataLoader(
    VariableLengthDataset(n=32),
    batch_size=2,
    collate_fn=pad_sequence_collate,
    shuffle=True,
)

batches = []
for i, (x_p, label, x_len) in enumerate(loader):
    print(f"x_p.shape={x_p.shape}, label={label}, x_len={x_len}")
    batches.append([x_p, label, x_len])
    if i == 2:
        break

result = {"batches": batches}
