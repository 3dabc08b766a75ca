"""Block sizes of the generated kernels: a default from the dtype and the neuron count, or the fastest of a few
candidates, measured once per (kernel variant, size class, T class) on the GPU.

Each thread owns ``16 / itemsize`` consecutive neurons (8 in fp16/bf16, 4 in fp32, 2 in fp64: one 16-byte access per
tensor and step) times a multiple; a block is that times 32 threads times its warps. The default uses 4 warps and
shrinks the block while fewer than :data:`MIN_BLOCKS` blocks would cover the neurons, so small layers still spread
over the GPU. Tuning (``SJ_TRITON_AUTOTUNE``, on by default on a GPU) times every candidate with CUDA events on the
call's own arguments (the kernels only write their outputs, so repeating a launch is harmless) and keeps the fastest
for the size class (``N`` rounded up to a power of two) and T class (``T`` rounded up to a power of two, 64 and above
alike): a choice made at ``T = 4`` is not reused at ``T = 64``. It never runs while a CUDA graph is being captured
(the default is used then) and block sizes never change results (each neuron is computed alone).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

MIN_BLOCKS = 264  # two per SM of a 132-SM GPU
_SHAPES = ((1, 2), (1, 4), (1, 8), (2, 4))  # (multiple of the 16-byte width, warps) per candidate
_REPS = 5

Config = tuple[int, int]  # (BLOCK, num_warps)


def elements_per_access(dtype: torch.dtype) -> int:
    """Neurons one 16-byte access covers in ``dtype``."""
    return 16 // torch.empty((), dtype=dtype).element_size()


def candidates(dtype: torch.dtype) -> tuple[Config, ...]:
    """The ``(BLOCK, num_warps)`` configurations tuning times for ``dtype`` (``BLOCK`` in neurons): one 16-byte access
    per thread on 2, 4 or 8 warps, and two on 4 warps; in fp32 ``(256, 2), (512, 4), (1024, 8), (1024, 4)``."""
    e = elements_per_access(dtype)
    return tuple((e * m * 32 * w, w) for m, w in _SHAPES)


def default_config(dtype: torch.dtype, n: int) -> Config:
    """4 warps of one 16-byte access per thread, halved (down to one warp) while fewer than :data:`MIN_BLOCKS` blocks
    would cover ``n`` neurons."""
    e, warps = elements_per_access(dtype), 4
    while warps > 1 and -(-n // (e * 32 * warps)) < MIN_BLOCKS:
        warps //= 2
    return e * 32 * warps, warps


def size_class(n: int) -> int:
    """``n`` rounded up to a power of two, as its exponent."""
    return (n - 1).bit_length()


def t_class(T: int) -> int:
    """``T`` rounded up to a power of two, as its exponent; every ``T >= 64`` is one class."""
    return (min(T, 64) - 1).bit_length()


def enabled() -> bool:
    """Whether calls tune (``SJ_TRITON_AUTOTUNE`` is not ``0``); :mod:`sj.triton.launch` also requires a real GPU
    that is not capturing a graph."""
    return os.environ.get("SJ_TRITON_AUTOTUNE", "1").strip() != "0"


def fastest(run: Callable[[Config], None], configs: tuple[Config, ...]) -> Config:
    """The config whose launches ``run(config)`` take the least GPU time on the current stream (each launched once
    to compile and load, then timed over a few launches)."""
    best, best_ms = configs[0], float("inf")
    for config in configs:
        run(config)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(_REPS):
            run(config)
        end.record()
        end.synchronize()
        ms = start.elapsed_time(end)
        if ms < best_ms:
            best, best_ms = config, ms
    return best
