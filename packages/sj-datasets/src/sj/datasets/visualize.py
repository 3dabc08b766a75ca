"""SpikingJelly 2.0's frame pictures: ``play_frame`` (GIF or a window) and ``save_as_pic`` (one PNG per frame).

Channel 0 (OFF) is drawn green and channel 1 (ON) blue; a frame value ``v`` becomes the 8-bit intensity
``uint8(255 * v)`` computed by torch, exactly as torchvision's ``ToPILImage`` (which SpikingJelly uses) converts a
float tensor. Needs matplotlib (and the Pillow it brings), imported only here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def _images(x: torch.Tensor | np.ndarray) -> list:
    """One RGB ``PIL.Image`` per frame of ``x`` ``[T, 2, H, W]``."""
    from PIL import Image

    x = torch.as_tensor(x)
    if x.ndim != 4 or x.shape[1] != 2:
        raise ValueError(f"frames must have shape [T, 2, H, W], got {list(x.shape)}")
    rgb = torch.zeros([x.shape[0], 3, x.shape[2], x.shape[3]])
    rgb[:, 1] = x[:, 0]
    rgb[:, 2] = x[:, 1]
    pixels = rgb.mul(255).byte().permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(frame) for frame in pixels]


def play_frame(x: torch.Tensor | np.ndarray, save_gif_to: str | Path | None = None) -> None:
    """Save the frames ``x`` ``[T, 2, H, W]`` as a looping GIF at ``save_gif_to``; with ``None``, show them in a
    matplotlib window in an endless loop (as SpikingJelly; stop it with Ctrl-C)."""
    images = _images(x)
    if save_gif_to is not None:
        images[0].save(save_gif_to, save_all=True, append_images=images[1:], loop=0)
        return
    from matplotlib import pyplot as plt

    while True:
        for image in images:
            plt.imshow(image)
            plt.pause(0.01)


def save_as_pic(x: torch.Tensor | np.ndarray, save_pic_to: str | Path = "./", pic_first_name: str = "pic") -> None:
    """Save each frame of ``x`` ``[T, 2, H, W]`` as ``save_pic_to/{pic_first_name}_{t}.png`` through matplotlib
    (``imshow``, axes off, tight box: SpikingJelly's rendering)."""
    from matplotlib import pyplot as plt

    folder = Path(save_pic_to)
    for t, image in enumerate(_images(x)):
        plt.imshow(image)
        plt.axis("off")
        plt.savefig(folder / f"{pic_first_name}_{t}.png", bbox_inches="tight", pad_inches=0)
