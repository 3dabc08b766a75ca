"""A minimal third-party sj backend: it runs the reference loops itself and counts its calls.

Written exactly as an external package would be: it imports only sj's public plug-in API.
"""

from __future__ import annotations

import torch

from sj.backends.base import Backend, BackwardInputs
from sj.backends.torch_backend import run_backward, run_forward
from sj.backends.torch_codegen import step_fns
from sj.plugins.hookspecs import hookimpl

calls = {"forward": 0, "backward": 0}


class DelegateBackend(Backend):
    name = "delegate"
    description = "test plug-in: the reference computation behind a third-party entry point"

    def supports(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        if device.type != "cpu":
            return "CPU only"
        if dtype not in (torch.float32, torch.float64):
            return f"dtype {dtype} not supported"
        return None

    def forward(self, spec, x_seq, state_init, params, save):
        calls["forward"] += 1
        return run_forward(step_fns(spec), spec, x_seq, state_init, params, save)

    def backward(self, spec, inputs: BackwardInputs):
        calls["backward"] += 1
        return run_backward(step_fns(spec), spec, inputs)


@hookimpl
def sj_backends() -> list[Backend]:
    return [DelegateBackend()]
