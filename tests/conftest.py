"""Session-wide test setup.

Without a GPU, sj-triton's kernels run under Triton's interpreter. Triton reads ``TRITON_INTERPRET`` when a function
is decorated, so it must be set before any test (or plug-in status check) imports sj-triton: here, first of all.
"""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
