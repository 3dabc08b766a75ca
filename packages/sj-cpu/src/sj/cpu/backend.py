"""The ``cpu`` backend: fused multi-step kernels generated from the declarations, run through ctypes.

Each call runs one OpenMP-parallel C kernel over all time steps (threads: ``torch.get_num_threads()``; one in a
forked child process, see :mod:`sj.cpu.threads`). Kernels come from the prebuilt library, or are compiled on first
use for declarations it does not contain (a C compiler is needed then); a neuron that has neither runs on the
``torch`` reference instead, with a warning, and ``sj backends`` lists it under ``fallbacks``. Large outputs come
from :class:`sj.cpu.pool.BufferPool`.

float16 and bfloat16 tensors run through the float32 kernels: the inputs are widened and the outputs rounded back
by torch conversions, so the neuron is computed in float32 over the whole sequence (the states never round to 16
bits between steps) and H is saved in the tensor's dtype, as the GPU backends' 16-bit kernels do. This costs the
conversion passes on top of a float32 call; there are no kernels reading 16-bit data directly. A saved H that would
round onto the threshold from below is stored one unit lower (backward decides the spikes again from the saved H,
and must find the ones the forward fired).
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import torch

from sj.backends.base import Backend, BackwardInputs, shared_constant
from sj.backends.torch_backend import TorchBackend
from sj.cache import UntrustedCacheError, cache_root
from sj.cpu import args, compiler, library, prebuilt, threads
from sj.cpu.codegen import CodegenError
from sj.cpu.pool import BufferPool

Tensor = torch.Tensor
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
_WIDENED = (torch.float16, torch.bfloat16)  # computed by the float32 kernels
# Why a kernel cannot be had: no (working) compiler, a declaration the generator refuses, a cache directory other users
# could write, a file system error.
_KERNEL_ERRORS = (compiler.CompileError, CodegenError, UntrustedCacheError, OSError)


class CpuBackend(Backend):
    """The ``'cpu'`` backend: fused OpenMP C kernels generated from the declarations (see the ``description``)."""
    name = "cpu"
    description = ("fused OpenMP C kernels generated from the declarations (CPU tensors; float32/float64, and "
                   "float16/bfloat16 computed in float32)")
    priority = 10  # the default on CPU tensors (sj.backends.registry.resolve): faster than the torch reference

    def __init__(self) -> None:
        self.loader = library.Loader(cache_root() / "cpu")
        self.pool = BufferPool()
        self._reference = TorchBackend()
        self._lock = threading.Lock()
        self._kernels: dict[tuple, library.Kernels | None] = {}
        self.fallbacks: dict[str, str] = {}

    def details(self) -> str:
        lib, reason = self.loader.prebuilt()
        serial = " (built without OpenMP: one thread)" if lib is not None and self.loader.prebuilt_serial() else ""
        hot = (f"{', '.join(prebuilt.HOT_NEURONS)} x {', '.join(prebuilt.HOT_SURROGATES)} in float32; every other "
               "configuration compiles on first use")
        parts = [f"prebuilt kernels ({hot}): {self.loader.library_path}{serial}" if lib is not None else reason,
                 f"run-time compiler: {compiler.compiler_reason()}", threads.describe()]
        if self.fallbacks:
            parts.append("fallbacks to the torch reference: " + "; ".join(f"{k}: {v}"
                                                                          for k, v in self.fallbacks.items()))
        return " | ".join(parts)

    def supports(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        if torch.device(device).type != "cpu":
            return f"device {device} is not a CPU"
        if dtype not in _SUFFIX and dtype not in _WIDENED:
            return f"dtype {dtype} is not supported (float16, bfloat16, float32 and float64 only)"
        return None

    def default_reason(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        """Not the default where the configuration's kernels are neither prebuilt nor compilable here (no C compiler),
        or failed to compile: such calls run on the reference without a fallback warning when no backend is
        named."""
        key = (spec, torch.float32 if dtype in _WIDENED else dtype)
        if key in self._kernels and self._kernels[key] is None:
            return f"its kernels for {spec.describe()} failed to compile here (see fallbacks)"
        if self.kernels(spec, key[1]).origin != "prebuilt" and compiler.find_compiler() is None:
            return f"{spec.describe()} is outside the prebuilt kernels and there is no C compiler to build it"
        return None

    def kernels(self, spec, dtype: torch.dtype) -> library.Kernels | None:
        """The kernels for ``spec`` in ``dtype`` (prebuilt, or compiled variant by variant on first use), or ``None``
        when the configuration runs on the reference (its first compile failed)."""
        # A registered declaration name never changes content (sj.decl_registry), so the spec names the kernels.
        key = (spec, dtype)
        found = self._kernels.get(key)  # no lock to read: one dict lookup is atomic
        if found is None and key not in self._kernels:
            found = self.loader.kernels(spec.program, spec.surrogate_program, _SUFFIX[dtype])
            with self._lock:
                found = self._kernels.setdefault(key, found)
        return found

    def _fall_back(self, spec, dtype: torch.dtype, exc: Exception, what: str) -> None:
        """Warn once per configuration and pass that the call runs on the torch reference, and list why in
        ``sj backends``."""
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        warnings.warn(f"sj cpu backend: falling back to the torch reference for {what} of {spec.describe()} in "
                      f"{dtype}: {reason}", RuntimeWarning, stacklevel=4)
        with self._lock:
            self.fallbacks[f"{spec.neuron}/{spec.surrogate}/{dtype}"] = reason

    def _forward_kernel(self, spec, dtype: torch.dtype, params: list[Tensor]):
        k = self.kernels(spec, dtype)
        if k is None:
            return None, None
        try:
            return k, k.forward(all(p.dim() == 0 for p in params))
        except _KERNEL_ERRORS as exc:
            self._fall_back(spec, dtype, exc, "the forward")
            with self._lock:  # the whole configuration: its backward needs what a compile here cannot give
                self._kernels[(spec, dtype)] = None
            return None, None

    def forward(self, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
                ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        if x_seq.dtype in _WIDENED:
            return self._narrowed_forward(spec, x_seq, state_init, params, save)
        _, kernel = self._forward_kernel(spec, x_seq.dtype, params)
        if kernel is None:
            return self._reference.forward(spec, x_seq, state_init, params, save)
        x = x_seq.contiguous()
        T = x.shape[0]
        N = x.shape[1:].numel()  # not numel() // T: T may be 0 (the states then pass through)
        states = [s.contiguous() for s in state_init]
        like = self.pool.like
        spike = like(x)
        v_seq = like(x) if spec.store_v_seq else None
        saved = [like(x) for _ in states] if save else None
        last = [like(s) for s in states]
        rc = kernel(args.forward(T, N, x, states, params, spike, last, v_seq, saved), threads.kernel_threads())
        if rc != 0:
            raise RuntimeError(f"cpu forward kernel for {spec.describe()} returned {rc}")
        return spike, last, v_seq, saved or []

    def backward(self, spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        h = inputs.saved[0]
        if h.dtype in _WIDENED:
            return self._narrowed_backward(spec, inputs)
        k = self.kernels(spec, h.dtype)
        kernel = None
        if k is not None:
            try:
                kernel = k.backward(all(p.dim() == 0 for p in inputs.params), inputs.params_need_grad)
            except _KERNEL_ERRORS as exc:  # the saved tensors are the reference's layout: it can take over
                self._fall_back(spec, h.dtype, exc, "a backward")
        if kernel is None:
            return self._reference.backward(spec, inputs)
        T = h.shape[0]
        N = h.shape[1:].numel()
        saved = [s.contiguous() for s in inputs.saved]
        x = inputs.x_seq.contiguous() if k.needs_x else None
        if x is not None and x.shape != h.shape:
            raise ValueError(f"cpu backward for {spec.describe()} reads x_seq, got shape {tuple(x.shape)} for saved H "
                             f"of shape {tuple(h.shape)}")
        state_init = [s.contiguous() for s in inputs.state_init]
        sparams = shared_constant(tuple(spec.surrogate_params), h.dtype, h.device)
        # An absent last-state gradient goes to the kernel as a null pointer (zero), not as [N] zeros.
        grad_last = [g.contiguous() if g is not None else None for g in inputs.grad_states_last]
        grad_v_seq = inputs.grad_v_seq.contiguous() if inputs.grad_v_seq is not None else None
        # Every tensor whose address the kernel gets stays referenced here until it returns: a temporary's memory
        # would be freed (and partly overwritten) before the kernel reads it.
        grad_spike = inputs.grad_spike.contiguous()
        like = self.pool.like
        grad_x = like(saved[0])
        grad_init = [like(s) for s in state_init]
        # a scalar parameter's gradient comes out of the kernel summed over the neurons (one value)
        grad_params = [(like(state_init[0]) if p.dim() else h.new_empty(())) if need else None
                       for p, need in zip(inputs.params, inputs.params_need_grad)]
        packed = args.backward(T, N, saved, x, state_init, inputs.params, sparams, grad_spike, grad_last,
                               grad_v_seq, grad_x, grad_init, grad_params)
        rc = kernel(packed, threads.kernel_threads())
        if rc != 0:
            raise RuntimeError(f"cpu backward kernel for {spec.describe()} returned {rc}")
        return grad_x, grad_init, grad_params

    def _converted(self, t: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """``t`` in ``dtype``, large ones in pooled memory (fresh pages would cost more than the conversion)."""
        return self.pool.empty(t.shape, dtype).copy_(t)

    def _narrowed_forward(self, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
                          ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        """A 16-bit forward through the float32 kernels; everything returned is in ``x_seq``'s dtype."""
        dtype = x_seq.dtype
        spike, last, v_seq, saved = self.forward(spec, self._converted(x_seq), [s.float() for s in state_init],
                                                 [p.float() for p in params], save)
        spike, saved = self._converted(spike, dtype), [self._converted(s, dtype) for s in saved]
        if saved:
            self._keep_unfired_below_threshold(saved[0], spike, params[0])
        return (spike, [s.to(dtype) for s in last], self._converted(v_seq, dtype) if v_seq is not None else None,
                saved)

    def _keep_unfired_below_threshold(self, h: Tensor, spike: Tensor, v_threshold: Tensor) -> None:
        """Move each 16-bit saved H that rounded onto the threshold at a step that did not fire one unit down.

        Backward decides the spikes again from the saved H (a spike fires at ``h >= v_threshold``). ``v_threshold``
        holds a 16-bit value and rounding is monotonic, so an H below it can only round onto it, never past it: the
        elements equal to it are the only candidates. numpy compares their bit patterns into a pooled mask (torch's
        16-bit compares are scalar on most CPUs), except where a threshold is zero (-0 and +0 differ in bits).
        """
        hit = self.pool.empty(h.shape, torch.bool)
        if bool((v_threshold == 0).any()):
            torch.eq(h, v_threshold, out=hit)
        else:
            np.equal(h.view(torch.int16).numpy(), v_threshold.view(torch.int16).numpy(), out=hit.numpy())
        at = torch.from_numpy(np.flatnonzero(hit.numpy()))
        at = at[spike.reshape(-1)[at] == 0]
        flat_h = h.view(-1)
        flat_h[at] = torch.nextafter(flat_h[at], h.new_tensor(-float("inf")))

    def _narrowed_backward(self, spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        """A 16-bit backward through the float32 kernels; the gradients come back in the saved tensors' dtype."""
        dtype = inputs.saved[0].dtype
        widen = self._converted
        wide = BackwardInputs(
            [widen(s) for s in inputs.saved], widen(inputs.x_seq), [s.float() for s in inputs.state_init],
            [p.float() for p in inputs.params], inputs.params_need_grad, widen(inputs.grad_spike),
            [g.float() if g is not None else None for g in inputs.grad_states_last],
            widen(inputs.grad_v_seq) if inputs.grad_v_seq is not None else None)
        grad_x, grad_init, grad_params = self.backward(spec, wide)
        return (self._converted(grad_x, dtype), [g.to(dtype) for g in grad_init],
                [g.to(dtype) if g is not None else None for g in grad_params])
