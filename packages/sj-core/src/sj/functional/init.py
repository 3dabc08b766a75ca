"""Weight initialisation helpers."""

from __future__ import annotations

import math

from torch import nn

_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def kaiming_normal_conv_linear_weight(net: nn.Module) -> int:
    """Re-initialise the weight of every Linear / Conv / ConvTranspose module in ``net`` (sj wrappers included) with
    :func:`torch.nn.init.kaiming_normal_` (``a = √5``, as SpikingJelly). Biases are left alone.

    Returns the number of modules re-initialised.
    """
    count = 0
    for m in net.modules():
        if isinstance(m, _TYPES):
            nn.init.kaiming_normal_(m.weight, a=math.sqrt(5))
            count += 1
    return count
