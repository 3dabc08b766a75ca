"""Where the sj-triton tests run: on CUDA when a GPU is visible, else on CPU tensors through Triton's interpreter.

Imported by every test module here before anything imports Triton kernels: without a GPU it sets
``TRITON_INTERPRET=1`` (unless the caller set it), so CI exercises the same generated kernels on CPU.
"""

from __future__ import annotations

import os

import torch

ON_GPU = torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "0") in ("", "0")
if not ON_GPU:
    os.environ.setdefault("TRITON_INTERPRET", "1")
DEVICE = "cuda" if ON_GPU else "cpu"
