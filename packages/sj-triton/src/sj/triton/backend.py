"""The ``triton`` backend: generated Triton kernels on CUDA/ROCm GPUs, or on CPU tensors under the interpreter."""

from __future__ import annotations

from functools import cache, lru_cache

import torch

from sj.backends.base import Backend, BackwardInputs

Tensor = torch.Tensor
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@cache
def _triton_version() -> str | None:
    try:
        import triton
    except ImportError:
        return None
    return triton.__version__


@lru_cache(maxsize=1024)
def _spec_reason(spec) -> str | None:
    """Why the kernels cannot be generated for ``spec`` (memoised per spec: the derived programs are looked up once,
    not on every call)."""
    from sj.triton.printer import unsupported_ops

    prog, sprog = spec.program, spec.surrogate_program
    if len(spec.surrogate_params) != len(sprog["params"]):
        return (f"surrogate {spec.surrogate!r} takes {len(sprog['params'])} surrogate parameters "
                f"{[p.removeprefix('sp_') for p in sprog['params']]}, got {len(spec.surrogate_params)}")
    exprs = [e for _, e in prog["forward"] + prog["backward"] + sprog["derivative"]]
    exprs += [*prog["forward_out"].values(), *prog["backward_out"].values(), prog["reset"], sprog["derivative_out"]]
    bad = unsupported_ops(exprs)
    if bad:
        return f"the declaration uses IR operations the Triton printer cannot spell: {sorted(bad)}"
    return None


@cache
def _cpu_modes() -> tuple:
    from sj.triton import stub_driver  # imports Triton: not at this module's import
    from sj.triton.loader import interpreting

    return interpreting, stub_driver.active


def _cpu_allowed() -> bool:
    """CPU tensors run under Triton's interpreter, or through sj-triton's stub driver (host-only tests, timings)."""
    interpreting, stubbed = _cpu_modes()
    return interpreting() or stubbed()


class TritonBackend(Backend):
    """Forward and backward-through-time kernels generated from the neuron and surrogate declarations.

    Runs on GPU tensors when ``torch.cuda.is_available()``. With ``TRITON_INTERPRET=1`` the same kernels run on CPU
    tensors through Triton's interpreter (slow; for testing without a GPU). fp16/bf16/fp32 tensors compute in fp32,
    float64 in fp64.
    """

    name = "triton"
    description = "Triton kernels generated from the declarations, loop over T inside the kernel (GPU)"
    priority = 30  # the default on CUDA tensors (sj.backends.registry.resolve), ahead of sj-cupy

    def default_reason(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        """Never the default for CPU tensors: there the kernels run in Triton's interpreter, which is for testing."""
        if torch.device(device).type == "cpu":
            return "on CPU tensors Triton's kernels run in its interpreter (TRITON_INTERPRET=1), which is for testing"
        return None

    def availability(self) -> str | None:
        if _triton_version() is None:
            return "the triton package is not installed (pip install 'triton>=3.3')"
        if torch.cuda.is_available() or _cpu_allowed():
            return None
        return ("no GPU: torch.cuda.is_available() is False (set TRITON_INTERPRET=1 to run the kernels on CPU "
                "tensors through Triton's interpreter, for testing)")

    def details(self) -> str:
        version = _triton_version()
        if version is None:
            return ""
        from sj.triton import tuning
        from sj.triton.loader import IMPLEMENTATION_HASH, interpreting, kernel_dir

        where = "interpreter (TRITON_INTERPRET=1), CPU tensors" if interpreting() else (
            torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")
        tune = "block size tuned per size and T class" if tuning.enabled() else "default block size"
        return (f"triton {version}, {where}, {tune}, implementation {IMPLEMENTATION_HASH}, "
                f"kernel cache {kernel_dir()}")

    def supports(self, spec, device: torch.device, dtype: torch.dtype) -> str | None:
        if dtype not in DTYPES:
            return f"dtype {dtype} is not one of {[str(d) for d in DTYPES]}"
        if device.type != "cuda" and not (device.type == "cpu" and _cpu_allowed()):
            return (f"device {device} is not a GPU (tensors must be on cuda; CPU tensors run only under "
                    "TRITON_INTERPRET=1)")
        return _spec_reason(spec)

    def forward(self, spec, x_seq: Tensor, state_init: list[Tensor], params: list[Tensor], save: bool
                ) -> tuple[Tensor, list[Tensor], Tensor | None, list[Tensor]]:
        from sj.triton import launch

        return launch.forward(spec, x_seq, state_init, params, save)

    def backward(self, spec, inputs: BackwardInputs) -> tuple[Tensor, list[Tensor], list[Tensor | None]]:
        from sj.triton import launch

        return launch.backward(spec, inputs)
