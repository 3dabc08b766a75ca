"""The ``cpu`` backend: fused multi-step kernels generated from the declarations, run through ctypes.

Each call runs one OpenMP-parallel C kernel over all time steps (threads: ``torch.get_num_threads()``). Kernels come
from the prebuilt library, or are compiled on first use for declarations it does not contain (a C compiler is
needed then); a neuron that has neither runs on the ``torch`` reference instead, with a warning, and ``sj backends``
lists it under ``fallbacks``. Large outputs come from :class:`sj.cpu.pool.BufferPool`.
"""

from __future__ import annotations

import ctypes
import threading
import warnings

import torch

from sj.backends.base import Backend, BackwardInputs, shared_constant
from sj.backends.torch_backend import TorchBackend
from sj.cpu import compiler, library
from sj.cpu.codegen import CodegenError
from sj.cpu.pool import BufferPool
from sj.neuron.derived import cache_dir

Tensor = torch.Tensor
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _ptrs(ts: list[Tensor | None]) -> ctypes.Array:
    return (ctypes.c_void_p * max(1, len(ts)))(*[_ptr(t) for t in ts])


def _strides(params: list[Tensor], numel: int) -> ctypes.Array:
    out = []
    for i, p in enumerate(params):
        if p.dim() == 0:
            out.append(0)
        elif p.numel() == numel and p.is_contiguous():
            out.append(1)
        else:
            raise ValueError(f"parameter {i} has shape {tuple(p.shape)}; the cpu backend takes a 0-d tensor or a "
                             f"contiguous tensor of {numel} elements (the neuron shape)")
    return (ctypes.c_int64 * max(1, len(out)))(*out)


class CpuBackend(Backend):
    name = "cpu"
    description = "fused OpenMP C kernels generated from the declarations (CPU tensors, float32/float64)"

    def __init__(self) -> None:
        self.loader = library.Loader(cache_dir() / "cpu")
        self.pool = BufferPool()
        self._reference = TorchBackend()
        self._lock = threading.Lock()
        self._kernels: dict[tuple, library.Kernels | None] = {}
        self.fallbacks: dict[str, str] = {}

    def details(self) -> str:
        lib, reason = self.loader.prebuilt()
        parts = [f"prebuilt kernels: {self.loader.library_path}" if lib is not None else reason,
                 f"run-time compiler: {compiler.compiler_reason()}", f"threads: {torch.get_num_threads()}"]
        if self.fallbacks:
            parts.append("fallbacks to the torch reference: " + "; ".join(f"{k}: {v}"
                                                                          for k, v in self.fallbacks.items()))
        return " | ".join(parts)

    def supports(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        if torch.device(device).type != "cpu":
            return f"device {device} is not a CPU"
        if dtype not in _SUFFIX:
            return f"dtype {dtype} is not supported (float32 and float64 only)"
        return None

    def kernels(self, spec, dtype: torch.dtype) -> library.Kernels | None:
        """The compiled kernels for ``spec`` in ``dtype``, or ``None`` when the call falls back to the reference."""
        key = (spec.neuron, spec.decl.content_hash, spec.soft_reset, spec.detach_reset, spec.surrogate, dtype)
        with self._lock:
            if key in self._kernels:
                return self._kernels[key]
        try:
            found: library.Kernels | None = self.loader.kernels(spec.program, spec.surrogate_program, _SUFFIX[dtype])
        except (compiler.CompileError, CodegenError, OSError) as exc:
            reason = f"{spec.describe()} in {dtype}: {str(exc).splitlines()[0]}"
            warnings.warn(f"sj cpu backend: falling back to the torch reference for {reason}", RuntimeWarning,
                          stacklevel=3)
            with self._lock:
                self.fallbacks[f"{spec.neuron}/{spec.surrogate}/{dtype}"] = str(exc).splitlines()[0]
            found = None
        with self._lock:
            self._kernels[key] = found
        return found

    def forward(self, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
                ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        k = self.kernels(spec, x_seq.dtype)
        if k is None:
            return self._reference.forward(spec, x_seq, state_init, params, save)
        x = x_seq.contiguous()
        T, shape = x.shape[0], x.shape[1:]
        N = x.numel() // T if T else 0
        states = [s.contiguous() for s in state_init]
        spike = self.pool.like(x)
        v_seq = self.pool.like(x) if spec.store_v_seq else None
        saved = [self.pool.like(x) for _ in states] if save else []
        last = [self.pool.empty(shape, x.dtype) for _ in states]
        args = library.FwdArgs(T, N, _ptr(x), _ptrs(states), _ptrs(params), _strides(params, N), _ptr(spike),
                               _ptrs(last), _ptr(v_seq), _ptrs(saved) if save else None)
        rc = k.forward(ctypes.byref(args), torch.get_num_threads())
        if rc != 0:
            raise RuntimeError(f"cpu forward kernel for {spec.describe()} returned {rc}")
        return spike, last, v_seq, saved

    def backward(self, spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        h = inputs.saved[0]
        k = self.kernels(spec, h.dtype)
        if k is None:
            return self._reference.backward(spec, inputs)
        T, shape = h.shape[0], h.shape[1:]
        N = h.numel() // T if T else 0
        saved = [s.contiguous() for s in inputs.saved]
        x = inputs.x_seq.contiguous() if spec.program["needs_x"] else None
        params = inputs.params
        sparams = shared_constant(tuple(spec.surrogate_params), h.dtype, h.device)
        grad_spike = inputs.grad_spike.contiguous()
        grad_last = [g.contiguous() for g in inputs.grad_states_last]
        grad_v_seq = inputs.grad_v_seq.contiguous() if inputs.grad_v_seq is not None else None
        grad_x = self.pool.like(saved[0])
        grad_init = [self.pool.empty(shape, h.dtype) for _ in saved]
        grad_params = [self.pool.empty(shape, h.dtype) if need else None for need in inputs.params_need_grad]
        args = library.BwdArgs(T, N, _ptrs(saved), _ptr(x), _ptrs([s.contiguous() for s in inputs.state_init]),
                               _ptrs(params), _strides(params, N), _ptr(sparams), _ptr(grad_spike),
                               _ptrs(grad_last), _ptr(grad_v_seq), _ptr(grad_x), _ptrs(grad_init),
                               _ptrs(grad_params))
        rc = k.backward(ctypes.byref(args), torch.get_num_threads())
        if rc != 0:
            raise RuntimeError(f"cpu backward kernel for {spec.describe()} returned {rc}")
        return grad_x, grad_init, grad_params
