"""Compile errors name the generated source line; bad configurations are refused with a reason."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")

from sj.cupy import compiler
from sj.cupy.backend import CupyBackend
from sj.cupy.compiler import KernelCompileError, compile_source
from sj.cupy.cuda_types import cuda_type
from sj.cupy.kernels import CudaPrinter, forward_kernel
from sj.ops.spec import MultiStepSpec


def _spec(neuron: str = "eif", surrogate: str = "ATan", params: tuple[float, ...] = (2.0,)) -> MultiStepSpec:
    return MultiStepSpec(neuron, surrogate, params, False, False, False)


def test_compile_error_shows_generated_line(monkeypatch) -> None:
    """A printer bug (exp printed as an undefined function) surfaces with NVRTC's log and the offending line."""
    monkeypatch.setenv("SJ_CUPY_DISK_CACHE", "0")
    original = CudaPrinter.function_name
    monkeypatch.setattr(CudaPrinter, "function_name",
                        lambda self, op: "sj_no_such_exp" if op == "exp" else original(self, op))
    forward_kernel.cache_clear()
    try:
        ks = forward_kernel(_spec(), cuda_type(torch.float32), 1, False)
        with pytest.raises(KernelCompileError) as info:
            compile_source(ks.source, ks.name, 90, "ptx")
    finally:
        forward_kernel.cache_clear()
    message = str(info.value)
    assert 'identifier "sj_no_such_exp" is undefined' in message
    bad = next(i for i, line in enumerate(ks.source.splitlines(), 1) if "sj_no_such_exp" in line)
    assert f"{ks.name}.cu:{bad}: const ct_t r_h = " in message
    assert info.value.source == ks.source and "error" in info.value.log


def test_target_for_picks_cubin_or_newest_ptx(monkeypatch) -> None:
    monkeypatch.setattr(compiler, "supported_archs", lambda: (75, 80, 86, 90))
    assert compiler.target_for((9, 0)) == (90, "cubin")
    assert compiler.target_for((8, 9)) == (86, "ptx")  # unknown to this NVRTC: PTX the driver JIT-compiles
    with pytest.raises(RuntimeError, match="cannot target compute capability"):
        compiler.target_for((7, 0))


@pytest.mark.parametrize("device, dtype, params, expected", [
    ("cpu", torch.float32, (2.0,), "runs on CUDA devices only, got cpu"),
    ("cuda", torch.int32, (2.0,), "dtype torch.int32 is not one of"),
    ("cuda", torch.float32, (), "surrogate ATan takes 1 parameter(s) (alpha), got 0"),
])
def test_supports_reasons(device, dtype, params, expected) -> None:
    reason = CupyBackend().supports(_spec("lif", "ATan", params), torch.device(device), dtype)
    assert reason is not None and expected in reason


def test_supports_every_builtin_config() -> None:
    from sj.neuron.builtin import BUILTIN_NEURONS
    from sj.surrogate.declarations import BUILTIN_SURROGATES, surrogates

    for n in BUILTIN_NEURONS:
        for sg in BUILTIN_SURROGATES:
            spec = MultiStepSpec(n, sg, surrogates.get(sg).defaults, True, True, True)
            assert CupyBackend().supports(spec, torch.device("cuda"), torch.bfloat16) is None
