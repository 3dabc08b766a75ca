"""The ``cupy`` backend: fills the :class:`sj.backends.base.Backend` contract with generated CUDA C kernels."""

from __future__ import annotations

import math

import torch

from sj.backends.base import Backend, BackwardInputs
from sj.cupy.availability import cached_probe, versions
from sj.cupy.cuda_types import SUPPORTED_DTYPES, cuda_type, preferred_vec
from sj.cupy.kernels import backward_kernel, forward_kernel
from sj.cupy.launch import aligned_vec, launch

Tensor = torch.Tensor


def _param_values(names: list[str], params: list[Tensor]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, p in zip(names, params):
        out[f"p_{name}"] = p
        out[f"ps_{name}"] = 0 if p.dim() == 0 else 1
    return out


class CupyBackend(Backend):
    """Multi-step neurons as one CUDA thread per neuron looping over time, compiled by NVRTC through CuPy.

    Runs on CUDA tensors of dtype float16, bfloat16, float32 or float64 (16-bit types are computed in float32 and
    moved two per 32-bit access when the size and alignment allow). Parameters may be 0-d or per-neuron (shape
    ``S``); surrogate parameters are kernel arguments (no recompilation when they change).
    """

    name = "cupy"
    priority = 20  # a default on CUDA tensors after sj-triton (sj.backends.registry.resolve)
    description = "CUDA C kernels generated from the declarations, compiled by NVRTC via CuPy (CUDA devices)"

    def availability(self) -> str | None:
        return cached_probe()

    def details(self) -> str:
        return versions()

    def supports(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        if device.type != "cuda":
            return f"the cupy backend runs on CUDA devices only, got {device}"
        if dtype not in SUPPORTED_DTYPES:
            return f"dtype {dtype} is not one of {[str(d) for d in SUPPORTED_DTYPES]}"
        expected = spec.surrogate_program["params"]
        if len(spec.surrogate_params) != len(expected):
            return (f"surrogate {spec.surrogate} takes {len(expected)} parameter(s) "
                    f"({', '.join(p.removeprefix('sp_') for p in expected)}), got {len(spec.surrogate_params)}")
        try:
            forward_kernel(spec, cuda_type(dtype), 1, True)
            backward_kernel(spec, cuda_type(dtype), 1, False, (True,) * len(spec.program["params"]))
        except Exception as exc:
            return f"cannot generate CUDA C for {spec.describe()}: {type(exc).__name__}: {exc}"
        return None

    def forward(self, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
                ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        prog = spec.program
        states = list(prog["states"])
        T, shape = x_seq.shape[0], x_seq.shape[1:]
        n = math.prod(shape)
        spike = torch.empty_like(x_seq)
        last = [torch.empty_like(s) for s in state_init]
        v_seq = torch.empty_like(x_seq) if spec.store_v_seq else None
        saved = [torch.empty_like(x_seq) for _ in state_init] if save else []
        values: dict[str, object] = {"x_seq": x_seq, "spike_seq": spike, "N": n, "T": T, "v_seq": v_seq}
        values.update(_param_values(list(prog["params"]), params))
        for i, s in enumerate(states):
            values[f"init_{s}"] = state_init[i]
            values[f"last_{s}"] = last[i]
        if save:
            values["saved_h"] = saved[0]
            for s, t in zip(states[1:], saved[1:]):
                values[f"saved_{s}"] = t
        vectored = [x_seq, spike, *state_init, *last, *saved] + ([v_seq] if v_seq is not None else [])
        vec = aligned_vec(preferred_vec(x_seq.dtype), n, vectored)
        launch(forward_kernel(spec, cuda_type(x_seq.dtype), vec, save), x_seq.device, n, values)
        return spike, last, v_seq, saved

    def backward(self, spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        prog = spec.program
        states, names = list(prog["states"]), list(prog["params"])
        h_seq = inputs.saved[0]
        T, shape = h_seq.shape[0], h_seq.shape[1:]
        n = math.prod(shape)
        grad_x = torch.empty_like(h_seq)
        grad_init = [torch.empty_like(s) for s in inputs.state_init]
        grad_params = [torch.empty(shape, dtype=h_seq.dtype, device=h_seq.device) if need else None
                       for need in inputs.params_need_grad]
        values: dict[str, object] = {"saved_h": h_seq, "grad_spike": inputs.grad_spike, "grad_x": grad_x, "N": n,
                                     "T": T, "x_seq": inputs.x_seq, "grad_v_seq": inputs.grad_v_seq}
        values.update(_param_values(names, inputs.params))
        values.update(zip(spec.surrogate_program["params"], spec.surrogate_params))
        grad_last = inputs.dense_grad_states_last()
        for i, s in enumerate(states):
            values[f"init_{s}"] = inputs.state_init[i]
            values[f"grad_last_{s}"] = grad_last[i]
            values[f"grad_init_{s}"] = grad_init[i]
            if i:
                values[f"saved_{s}"] = inputs.saved[i]
        for name, g in zip(names, grad_params):
            if g is not None:
                values[f"grad_p_{name}"] = g
        vectored = [*inputs.saved, inputs.grad_spike, grad_x, *inputs.state_init, *grad_last,
                    *grad_init, *(g for g in grad_params if g is not None)]
        if prog["needs_x"]:
            vectored.append(inputs.x_seq)
        if inputs.grad_v_seq is not None:
            vectored.append(inputs.grad_v_seq)
        vec = aligned_vec(preferred_vec(h_seq.dtype), n, vectored)
        ks = backward_kernel(spec, cuda_type(h_seq.dtype), vec, inputs.grad_v_seq is not None,
                             tuple(bool(b) for b in inputs.params_need_grad))
        launch(ks, h_seq.device, n, values)
        return grad_x, grad_init, grad_params
