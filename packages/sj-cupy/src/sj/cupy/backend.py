"""The ``cupy`` backend: fills the :class:`sj.backends.base.Backend` contract with generated CUDA C kernels.

A call computes its configuration key (spec, dtype, elements per thread, flags, device), finds the launch
:class:`sj.cupy.launch.Plan` made on the configuration's first call (kernel generated, compiled and loaded) and
launches it with the tensors' addresses: no dictionaries of arguments, no ``[*S]`` zeros for an absent last-state
gradient (a compile-time flag), no copies of 0-d parameters.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from sj.backends.base import Backend, BackwardInputs
from sj.cupy import stub_launch
from sj.cupy.availability import cached_probe, versions
from sj.cupy.cuda_types import SUPPORTED_DTYPES, cuda_type, preferred_vec
from sj.cupy.kernels import backward_kernel, forward_kernel
from sj.cupy.launch import Plan, aligned_vec

Tensor = torch.Tensor
_plans: dict[tuple, tuple[Plan, tuple[int, ...], tuple]] = {}


def _on_gpu(device: torch.device) -> bool:
    """CUDA tensors; CPU tensors too while :func:`sj.cupy.stub_launch.stubbed_launches` runs the host path alone."""
    return device.type == "cuda" or (device.type == "cpu" and stub_launch.active())


@lru_cache(maxsize=1024)
def _spec_reason(spec) -> str | None:
    """Why no kernel can be generated for ``spec`` (memoised per spec: generated once, not on every call)."""
    expected = spec.surrogate_program["params"]
    if len(spec.surrogate_params) != len(expected):
        return (f"surrogate {spec.surrogate} takes {len(expected)} parameter(s) "
                f"({', '.join(p.removeprefix('sp_') for p in expected)}), got {len(spec.surrogate_params)}")
    try:
        forward_kernel(spec, cuda_type(torch.float32), 1, True)
        backward_kernel(spec, cuda_type(torch.float32), 1, False, (True,) * len(spec.program["params"]))
    except Exception as exc:
        return f"cannot generate CUDA C for {spec.describe()}: {type(exc).__name__}: {exc}"
    return None


def _plan(key: tuple, ks, names: tuple[str, ...], index: int, tail: tuple) -> tuple[Plan, tuple[int, ...], tuple]:
    """The plan of a configuration: the loaded kernel, where each of its pointer arguments sits in the call's
    tuple of candidate tensors (named ``names``), and the constants appended after ``N`` and ``T``."""
    order = tuple(names.index(name) for name in ks.pointers)
    return _plans.setdefault(key, (Plan(ks, index), order, tail))


def _forward_names(states: list[str], params: list[str]) -> tuple[str, ...]:
    return ("x_seq", *(f"init_{s}" for s in states), *(f"p_{p}" for p in params), "spike_seq",
            *(f"last_{s}" for s in states), "v_seq", "saved_h", *(f"saved_{s}" for s in states[1:]))


def _backward_names(states: list[str], params: list[str]) -> tuple[str, ...]:
    return ("saved_h", *(f"saved_{s}" for s in states[1:]), "x_seq", *(f"init_{s}" for s in states),
            *(f"p_{p}" for p in params), "grad_spike", *(f"grad_last_{s}" for s in states), "grad_v_seq", "grad_x",
            *(f"grad_init_{s}" for s in states), *(f"grad_p_{p}" for p in params))


class CupyBackend(Backend):
    """Multi-step neurons as one CUDA thread per 16 bytes of neurons looping over time, compiled by NVRTC.

    Runs on CUDA tensors of dtype float16, bfloat16, float32 or float64 (16-bit types are computed in float32).
    Each thread moves 16 bytes per tensor and step (8, 4 or 2 neurons) when the neuron count and the tensors'
    alignment allow, else one neuron. Parameters may be 0-d or per-neuron (shape ``S``); surrogate parameters are
    kernel arguments (no recompilation when they change).
    """

    name = "cupy"
    priority = 20  # a default on CUDA tensors after sj-triton (sj.backends.registry.resolve)
    description = "CUDA C kernels generated from the declarations, compiled by NVRTC via CuPy (CUDA devices)"

    def availability(self) -> str | None:
        return None if stub_launch.active() else cached_probe()

    def details(self) -> str:
        return versions()

    def supports(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        if not _on_gpu(device):
            return f"the cupy backend runs on CUDA devices only, got {device}"
        if dtype not in SUPPORTED_DTYPES:
            return f"dtype {dtype} is not one of {[str(d) for d in SUPPORTED_DTYPES]}"
        return _spec_reason(spec)

    def forward(self, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
                ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        T = x_seq.shape[0]
        n = x_seq.numel() // T
        spike = torch.empty_like(x_seq)
        last = [torch.empty_like(s) for s in state_init]
        v_seq = torch.empty_like(x_seq) if spec.store_v_seq else None
        saved = [torch.empty_like(x_seq) for _ in state_init] if save else []
        if n == 0:
            return spike, last, v_seq, saved
        fulls = tuple(p.dim() > 0 for p in params)
        vec = aligned_vec(preferred_vec(x_seq.dtype), n, (x_seq, *state_init, *params))
        index = x_seq.get_device()
        key = ("forward", spec, x_seq.dtype, vec, save, fulls, index)
        plan = _plans.get(key)
        if plan is None:
            prog = spec.program
            ks = forward_kernel(spec, cuda_type(x_seq.dtype), vec, save, fulls)
            plan = _plan(key, ks, _forward_names(list(prog["states"]), list(prog["params"])), index, ())
        launcher, order, tail = plan
        tensors = (x_seq, *state_init, *params, spike, *last, v_seq, *saved)
        launcher.launch(n, (*(tensors[i].data_ptr() for i in order), n, T, *tail))
        return spike, last, v_seq, saved

    def backward(self, spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        h_seq = inputs.saved[0]
        T = h_seq.shape[0]
        n = h_seq.numel() // T
        shape = h_seq.shape[1:]
        grad_x = torch.empty_like(h_seq)
        grad_init = [torch.empty_like(s) for s in inputs.state_init]
        grad_params = [torch.empty(shape, dtype=h_seq.dtype, device=h_seq.device) if need else None
                       for need in inputs.params_need_grad]
        if n == 0:
            return grad_x, grad_init, [None if g is None else g.zero_() for g in grad_params]
        gs = inputs.grad_spike.contiguous()  # contiguous per the contract: a no-op, kept as a guard
        glast = [g.contiguous() if g is not None else None for g in inputs.grad_states_last]
        gv = inputs.grad_v_seq.contiguous() if inputs.grad_v_seq is not None else None
        params = inputs.params
        fulls = tuple(p.dim() > 0 for p in params)
        needs = tuple(bool(b) for b in inputs.params_need_grad)
        has_glast = tuple(g is not None for g in glast)
        read = (*inputs.saved, inputs.x_seq, *inputs.state_init, *params, gs, *(g for g in glast if g is not None))
        vec = aligned_vec(preferred_vec(h_seq.dtype), n, read if gv is None else (*read, gv))
        index = h_seq.get_device()
        key = ("backward", spec, h_seq.dtype, vec, gv is not None, needs, has_glast, fulls, index)
        plan = _plans.get(key)
        if plan is None:
            prog = spec.program
            ks = backward_kernel(spec, cuda_type(h_seq.dtype), vec, gv is not None, needs, has_glast, fulls)
            names = _backward_names(list(prog["states"]), list(prog["params"]))
            plan = _plan(key, ks, names, index, tuple(float(v) for v in spec.surrogate_params))
        launcher, order, tail = plan
        tensors = (*inputs.saved, inputs.x_seq, *inputs.state_init, *params, gs, *glast, gv, grad_x, *grad_init,
                   *grad_params)
        launcher.launch(n, (*(tensors[i].data_ptr() for i in order), n, T, *tail))
        return grad_x, grad_init, grad_params
