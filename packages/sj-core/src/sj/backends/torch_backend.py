"""The ``torch`` backend: the reference implementation, generated from the declarations, on any device.

A Python loop over time calls the generated step functions (:mod:`sj.backends.torch_codegen`). Every other backend
is tested against this one (:mod:`sj.testing`).
"""

from __future__ import annotations

import torch

from sj.backends.base import Backend, BackwardInputs
from sj.backends.torch_codegen import backward_fn, step_fns
from sj.plugins.hookspecs import hookimpl

Tensor = torch.Tensor


class TorchBackend(Backend):
    """The reference backend ``'torch'``: the PyTorch ops generated from each declaration, a Python loop over T; runs
    on any device and dtype, and is what every other backend is tested against."""
    name = "torch"
    description = "reference: PyTorch ops generated from the declarations, Python loop over T (any device)"

    def details(self) -> str:
        return f"torch {torch.__version__}"

    def supports(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        if not dtype.is_floating_point:
            return f"dtype {dtype} is not floating point"
        return None

    def forward(self, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
                ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        return run_forward(step_fns(spec), spec, x_seq, state_init, params, save)

    def backward(self, spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        return run_backward(step_fns(spec), spec, inputs, backward_fn(spec, tuple(inputs.params_need_grad)))


def run_forward(fns: dict, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
            ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
    """The reference forward loop over time with generated step functions ``fns``."""
    step = fns["forward"]
    T = x_seq.shape[0]
    spike_seq = torch.empty_like(x_seq)
    v_seq = torch.empty_like(x_seq) if spec.store_v_seq else None
    saved = [torch.empty_like(x_seq) for _ in state_init] if save else []  # h, then aux states
    states = list(state_init)
    for t in range(T):
        s, *states, h = step(x_seq[t], *states, *params)
        spike_seq[t] = s
        if v_seq is not None:
            v_seq[t] = states[0]
        if save:
            saved[0][t] = h
            for i, a in enumerate(states[1:]):
                saved[1 + i][t] = a
    last = [torch.broadcast_to(s, x_seq.shape[1:]).clone() for s in states]
    return spike_seq, last, v_seq, saved


def run_backward(fns: dict, spec, inputs: BackwardInputs, step_back=None
                 ) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
    """The reference backward-through-time loop with generated step functions ``fns``; ``step_back``: a backward step
    returning only the requested parameter gradients (:func:`sj.backends.torch_codegen.backward_fn`), else
    ``fns["backward"]`` (every parameter's)."""
    v_after = fns["v_after"]
    wanted = list(inputs.params_need_grad) if step_back is not None else [True] * len(inputs.params)
    step_back = step_back or fns["backward"]
    params = inputs.params
    sparams = [torch.as_tensor(p, dtype=inputs.grad_spike.dtype, device=inputs.grad_spike.device)
               for p in spec.surrogate_params]
    h_seq, aux_seqs = inputs.saved[0], inputs.saved[1:]
    T, shape = h_seq.shape[0], h_seq.shape[1:]
    n_states = len(inputs.state_init)
    needs_x = spec.program["needs_x"]
    grad_x = torch.empty_like(h_seq)
    zero = h_seq.new_zeros(())
    grad_states = [(g if g is not None else zero).expand(shape) for g in inputs.grad_states_last]
    grad_params = [torch.zeros(shape, dtype=h_seq.dtype, device=h_seq.device) if need else None
                   for need in inputs.params_need_grad]
    reads = getattr(step_back, "reads_states", (True,) * n_states)  # a previous state it never reads: not computed
    for t in range(T - 1, -1, -1):
        if t == 0:
            prev = list(inputs.state_init)
        else:
            prev = [v_after(h_seq[t - 1], *params) if reads[0] else None,
                    *(a[t - 1] for a in aux_seqs)]
        g_states = list(grad_states)
        if inputs.grad_v_seq is not None:
            g_states[0] = g_states[0] + inputs.grad_v_seq[t]
        x_t = inputs.x_seq[t] if needs_x else None
        out = step_back(h_seq[t], x_t, *prev, *params, *sparams, inputs.grad_spike[t], *g_states)
        grad_x[t] = out[0]
        grad_states = list(out[1:1 + n_states])
        returned = iter(out[1 + n_states:])
        for i, w in enumerate(wanted):
            g = next(returned) if w else None
            if grad_params[i] is not None:
                grad_params[i] += g
    grad_init = [torch.broadcast_to(g, shape).clone() for g in grad_states]
    return grad_x, grad_init, grad_params


@hookimpl
def sj_backends() -> list[Backend]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_backends`): the reference backend."""
    return [TorchBackend()]
