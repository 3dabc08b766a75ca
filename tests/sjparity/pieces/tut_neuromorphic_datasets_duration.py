# ruff: noqa
"""Tutorial neuromorphic_datasets, "Fixed Duration Integration": samples with different numbers of frames padded by
pad_sequence_collate and masked by padded_sequence_mask. SJ's DVS128Gesture needs torchvision's DatasetFolder, which
does not load here: the 5 samples are synthetic frames [T, 2, 16, 16] with the tutorial's T = 6, 6, 5, 5, 7."""
import torch
from torch.utils.data import DataLoader
from spikingjelly.datasets.utils import pad_sequence_collate, padded_sequence_mask

train_set = [(torch.rand([T, 2, 16, 16]), label) for label, T in enumerate([6, 6, 5, 5, 7])]  # the dataset, synthetic
for i in range(5):
    x, y = train_set[i]
    print(f'x[{i}].shape=[T, C, H, W]={x.shape}')
train_data_loader = DataLoader(train_set, collate_fn=pad_sequence_collate, batch_size=5)
for x, y, x_len in train_data_loader:
    print(f'x.shape=[N, T, C, H, W]={tuple(x.shape)}')
    print(f'x_len={x_len}')
    mask = padded_sequence_mask(x_len)  # mask.shape = [T, N]
    print(f'mask=\n{mask.t().int()}')
    break

result = {"x": x, "y": y, "x_len": x_len, "mask": mask}
