"""sj-triton: the ``triton`` multi-step backend, its kernels generated from sj's neuron and surrogate declarations.

Use it with ``sj.ops.multistep(..., backend="triton")`` (or a module's ``backend="triton"``); ``sj backends`` says
whether it is available here. Importing this package does not import Triton; the kernels are generated, written to
``$SJ_CACHE_DIR/triton`` and compiled on first use. See ``docs/triton.md``.
"""

from sj.triton.backend import TritonBackend

__all__ = ["TritonBackend"]
