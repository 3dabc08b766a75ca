"""Allocate outputs and launch the generated kernels for one multi-step call (see :mod:`sj.backends.base`)."""

from __future__ import annotations

import contextlib
from functools import lru_cache

import torch

import triton
import triton.language as tl
from sj.backends.base import BackwardInputs, shared_constant
from sj.triton.kernels import is_constexpr
from sj.triton.loader import Kernels, autotuning, interpreting, load

Tensor = torch.Tensor
MAX_NEURONS = 2**31 - 4096  # block offsets are 32-bit


_by_spec: dict[tuple, Kernels] = {}


def kernels_for(spec) -> Kernels:
    """The generated kernels of a :class:`sj.ops.spec.MultiStepSpec` (memoised per declaration content, reset mode,
    surrogate and Triton mode, so a call does not regenerate and hash the source)."""
    prog, sprog = spec.program, spec.surrogate_program
    key = (prog["hash"], prog["soft_reset"], prog["detach_reset"], sprog["hash"], interpreting(), autotuning())
    found = _by_spec.get(key)
    if found is None:
        found = _by_spec.setdefault(key, load(prog, sprog))
    return found


def compute_dtype(dtype: torch.dtype):
    """fp64 arithmetic for float64 tensors, fp32 for every other supported dtype."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def _compute_torch_dtype(dtype: torch.dtype) -> torch.dtype:
    """The torch dtype of the arithmetic: float64 for float64 tensors, float32 for every other supported dtype."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _neuron_count(x: Tensor) -> int:
    n = x[0].numel() if x.dim() > 1 else 1
    if n > MAX_NEURONS:
        raise ValueError(f"sj-triton handles at most {MAX_NEURONS} neurons per call, got {n} (shape {tuple(x.shape)})")
    return n


def _device_guard(t: Tensor):
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()


@lru_cache(maxsize=256)
def _split(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A kernel's runtime (positional) and compile-time argument names; BLOCK is the autotuner's."""
    return (tuple(a for a in names if not is_constexpr(a)),
            tuple(a for a in names if is_constexpr(a) and a != "BLOCK"))


def _launch(kernel, names: list[str], values: dict, n: int) -> None:
    runtime, constexpr = _split(tuple(names))
    missing = [a for a in (*runtime, *constexpr) if a not in values]
    if missing:
        raise RuntimeError(f"sj-triton launcher has no value for kernel arguments {missing}")
    grid = lambda meta: (triton.cdiv(n, meta["BLOCK"]),)  # noqa: E731
    kernel[grid](*(values[a] for a in runtime), **{a: values[a] for a in constexpr})


def forward(spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
            ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
    """Run the forward kernel of ``spec`` on ``x_seq`` ``[T, *]``: spikes, final states, and (with ``save``) what
    the backward needs."""
    k = kernels_for(spec)
    sig = k.signature
    T, n = x_seq.shape[0], _neuron_count(x_seq)
    spike = torch.empty_like(x_seq)
    v_seq = torch.empty_like(x_seq) if spec.store_v_seq else None
    saved = [torch.empty_like(x_seq) for _ in sig.states] if save else []
    last = [torch.empty_like(s) for s in state_init]
    if n == 0:
        return spike, last, v_seq, saved
    values: dict = {"x_ptr": x_seq, "spike_ptr": spike, "vseq_ptr": v_seq if v_seq is not None else spike,
                    "hseq_ptr": saved[0] if save else spike, "T": T, "N": n, "SAVE": save,
                    "STORE_V": spec.store_v_seq, "CDT": compute_dtype(x_seq.dtype)}
    for i, s in enumerate(sig.states):
        values[f"init_{s}"], values[f"last_{s}"] = state_init[i], last[i]
    for i, a in enumerate(sig.aux):
        values[f"seq_{a}"] = saved[1 + i] if save else spike
    for p, t in zip(sig.params, params):
        values[f"par_{p}"], values[f"FULL_{p}"] = t, t.dim() > 0
    with _device_guard(x_seq):
        _launch(k.forward, sig.forward_args(), values, n)
    return spike, last, v_seq, saved


def backward(spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
    """Run the backward kernel of ``spec``: gradients of the input, the initial states and the parameters."""
    k = kernels_for(spec)
    sig = k.signature
    h_seq = inputs.saved[0]
    T, n = h_seq.shape[0], _neuron_count(h_seq)
    shape = h_seq.shape[1:]
    grad_x = torch.empty_like(h_seq)
    grad_init = [torch.empty(shape, dtype=h_seq.dtype, device=h_seq.device) for _ in sig.states]
    grad_params = [torch.empty(shape, dtype=h_seq.dtype, device=h_seq.device) if need else None
                   for need in inputs.params_need_grad]
    if n == 0:
        return grad_x, grad_init, [None if g is None else g.zero_() for g in grad_params]
    gv = inputs.grad_v_seq.contiguous() if inputs.grad_v_seq is not None else None
    values: dict = {"hseq_ptr": h_seq, "x_ptr": inputs.x_seq if sig.needs_x else h_seq,
                    "sp_ptr": shared_constant(tuple(spec.surrogate_params), _compute_torch_dtype(h_seq.dtype),
                                              h_seq.device),
                    "gs_ptr": inputs.grad_spike.contiguous(), "gv_ptr": gv if gv is not None else h_seq,
                    "gx_ptr": grad_x, "T": T, "N": n, "LAST": (T - 1) * n, "HAS_GV": gv is not None,
                    "CDT": compute_dtype(h_seq.dtype)}
    for i, a in enumerate(sig.aux):
        values[f"seq_{a}"] = inputs.saved[1 + i]
    grad_last = inputs.dense_grad_states_last()
    for i, s in enumerate(sig.states):
        values[f"init_{s}"] = inputs.state_init[i]
        values[f"glast_{s}"] = grad_last[i].expand(shape).contiguous()
        values[f"ginit_{s}"] = grad_init[i]
    for i, p in enumerate(sig.params):
        t, g = inputs.params[i], grad_params[i]
        values[f"par_{p}"], values[f"FULL_{p}"] = t, t.dim() > 0
        values[f"gpar_{p}"], values[f"GRAD_{p}"] = (g if g is not None else grad_x), g is not None
    with _device_guard(h_seq):
        _launch(k.backward, sig.backward_args(), values, n)
    return grad_x, grad_init, grad_params
