"""sj-cupy: the ``cupy`` multi-step backend (CUDA C generated from the declarations, compiled by NVRTC via CuPy).

Use it through sj-core: ``sj.ops.multistep(..., backend="cupy")`` on CUDA tensors; ``sj backends`` reports whether
it can run here. Importing this package never imports CuPy. Modules: :mod:`sj.cupy.kernels` (source generation),
:mod:`sj.cupy.cuda_types` (dtype prelude), :mod:`sj.cupy.compiler` (NVRTC + caches), :mod:`sj.cupy.launch`
(zero-copy launch on torch's stream), :mod:`sj.cupy.availability` (why it can or cannot run),
:mod:`sj.cupy.backend` (the contract).
"""

from sj.cupy.backend import CupyBackend
from sj.cupy.compiler import KernelCompileError

__all__ = ["CupyBackend", "KernelCompileError"]
