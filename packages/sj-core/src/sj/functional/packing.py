"""Binary spikes packed 8 per byte (least significant bit first), and Linear layers on packed or binary spikes.

SpikingJelly 2.0 runs ``bit_pack_spike_dense``, ``packed_spike_linear`` and ``sparse_linear(strategy='sparse')`` on
CUDA only (custom kernels, with a PyTorch fallback on CUDA); sj computes the same values with PyTorch on any device.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F

_LINEAR_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def _bit_weights(device: torch.device) -> torch.Tensor:
    return torch.tensor([1 << b for b in range(8)], dtype=torch.uint8, device=device)


def _pack_rows(bits: torch.Tensor) -> torch.Tensor:
    """Bool ``[M, K]`` → uint8 ``[M, ⌈K/8⌉]``: bit ``b`` of byte ``j`` is column ``8j + b`` (zero padded)."""
    m, k = bits.shape
    padded = F.pad(bits.to(torch.uint8), (0, (-k) % 8))
    return (padded.view(m, -1, 8) * _bit_weights(bits.device)).sum(-1, dtype=torch.uint8)


def _unpack_rows(packed: torch.Tensor, k: int) -> torch.Tensor:
    """uint8 ``[M, B]`` → uint8 0/1 ``[M, k]`` (``k ≤ 8B``)."""
    bits = (packed.unsqueeze(-1) & _bit_weights(packed.device)) != 0
    return bits.flatten(-2)[..., :k].to(torch.uint8)


def bit_spike_compress(spike: torch.Tensor) -> torch.Tensor:
    """Pack a spike tensor of any shape (nonzero = 1) into a flat uint8 tensor of ``⌈numel/8⌉`` bytes, element
    ``i`` (in row-major order) at bit ``i mod 8`` of byte ``i // 8``; the tail is zero padded. Not differentiable."""
    if not isinstance(spike, torch.Tensor) or spike.layout != torch.strided:
        raise TypeError("bit_spike_compress: spike must be a dense (strided) tensor")
    with torch.no_grad():
        return _pack_rows((spike != 0).reshape(1, -1))[0]


def bit_spike_decompress(packed: torch.Tensor, shape: tuple[int, ...],
                         dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """Inverse of :func:`bit_spike_compress`: flat uint8 ``packed`` → 0/1 tensor of ``shape`` and ``dtype``.

    Raises ``ValueError`` unless ``packed`` is a 1-D uint8 tensor of exactly ``⌈prod(shape)/8⌉`` bytes.
    """
    shape = tuple(shape)
    if not isinstance(packed, torch.Tensor) or packed.dtype != torch.uint8 or packed.dim() != 1:
        raise ValueError("bit_spike_decompress: packed must be a 1-D uint8 tensor (from bit_spike_compress)")
    if any(d < 0 for d in shape):
        raise ValueError(f"bit_spike_decompress: shape dimensions must be >= 0, got {shape}")
    n = math.prod(shape)
    if packed.numel() != (n + 7) // 8:
        raise ValueError(f"bit_spike_decompress: {packed.numel()} bytes cannot hold shape {shape} "
                         f"({n} spikes need {(n + 7) // 8})")
    with torch.no_grad():
        return _unpack_rows(packed.view(1, -1), n)[0].to(dtype).reshape(shape)


def bit_pack_spike_dense(spike: torch.Tensor) -> torch.Tensor:
    """Pack each row of binary spikes ``[M, K]`` (values > 0.5 are 1) into uint8 ``[M, ⌈K/8⌉]``: bit ``b`` of byte
    ``j`` is column ``8j + b``; each row's last byte is zero padded. Not differentiable."""
    if spike.dim() != 2:
        raise ValueError(f"bit_pack_spike_dense: spike must be 2-D [M, K], got {tuple(spike.shape)}")
    if spike.dtype not in _LINEAR_DTYPES:
        raise TypeError(f"bit_pack_spike_dense: spike must be float32, float16, bfloat16 or float64, got {spike.dtype}")
    with torch.no_grad():
        return _pack_rows(spike > 0.5)


def packed_spike_linear(packed: torch.Tensor, weight: torch.Tensor,
                        bias: torch.Tensor | None = None) -> torch.Tensor:
    """``Linear`` on row-packed spikes (:func:`bit_pack_spike_dense`): ``[M, ⌈K/8⌉]`` uint8 and ``weight`` ``[N, K]``
    → ``[M, N]`` in the weight's dtype (products summed in float32 for half types, as SpikingJelly; ``bias`` added
    after the cast). Differentiable with respect to ``weight`` and ``bias`` only."""
    if packed.dtype != torch.uint8 or packed.dim() != 2:
        raise ValueError(f"packed_spike_linear: packed must be 2-D uint8 [M, ceil(K/8)], got {packed.dtype} "
                         f"{tuple(packed.shape)}")
    _check_weight("packed_spike_linear", weight, bias)
    k = weight.shape[1]
    if packed.shape[1] != (k + 7) // 8:
        raise ValueError(f"packed_spike_linear: packed has {packed.shape[1]} bytes per row but weight has K={k} "
                         f"inputs (needs {(k + 7) // 8})")
    spikes = _unpack_rows(packed, k)
    return _linear(spikes, weight, bias)


def _check_weight(owner: str, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    if weight.dim() != 2 or weight.dtype not in _LINEAR_DTYPES:
        raise ValueError(f"{owner}: weight must be a 2-D float tensor [N, K], got {weight.dtype} {tuple(weight.shape)}")
    if bias is not None and (bias.shape != weight.shape[:1] or bias.dtype != weight.dtype):
        raise ValueError(f"{owner}: bias must be [{weight.shape[0]}] in the weight's dtype, got {bias.dtype} "
                         f"{tuple(bias.shape)}")


def _linear(spikes: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``spikes @ weightᵀ`` accumulated in (at least) float32, cast to the weight's dtype, then ``+ bias``."""
    acc = torch.promote_types(weight.dtype, torch.float32)
    y = F.linear(spikes.to(acc), weight.to(acc)).to(weight.dtype)
    return y if bias is None else y + bias


def sparse_linear(spike: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  strategy: Literal["torch", "sparse"] = "torch") -> torch.Tensor:
    """``Linear`` on unpacked binary spikes, differentiable in every argument.

    ``strategy='torch'`` is :func:`torch.nn.functional.linear`. ``strategy='sparse'`` keeps SpikingJelly's contract
    of its sparse CUDA kernel — 2-D ``[M, K]`` spikes with the weight's and bias's dtype, products summed in float32,
    output in the spike dtype — and computes it with a dense product (sj has no sparse kernel); for binary spikes
    (the kernel's contract: it reads values > 0.5 as 1) the values and gradients are those of the kernel.
    """
    if strategy == "torch":
        return F.linear(spike, weight, bias)
    if strategy != "sparse":
        raise ValueError(f"sparse_linear: unknown strategy {strategy!r}; choose 'torch' or 'sparse'")
    if spike.dim() != 2:
        raise ValueError(f"sparse_linear: strategy='sparse' needs 2-D spikes [M, K], got {tuple(spike.shape)}")
    _check_weight("sparse_linear", weight, bias)
    if spike.dtype != weight.dtype or spike.shape[1] != weight.shape[1]:
        raise ValueError(f"sparse_linear: spike {spike.dtype} {tuple(spike.shape)} must share the weight's dtype and K "
                         f"({weight.dtype} {tuple(weight.shape)})")
    return _linear(spike, weight, bias)
