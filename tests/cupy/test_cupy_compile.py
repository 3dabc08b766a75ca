"""Every generated kernel compiles with NVRTC to PTX for sm_80 and sm_90 (no GPU needed).

The full product (every built-in neuron plus user-declared ones × every surrogate × hard/soft × detach × dtype, and
all forward variants, both memory paths, per-neuron and 0-d parameters, present and absent last-state gradients) is
compiled with NVVM's optimiser off (``-Xnvvm -opt=0``: the same front end and PTX code generation, a tenth of the
time); a sample is also compiled exactly as at run time (optimised, occupancy searched, to PTX and CUBIN).
"""

from __future__ import annotations

import itertools

import pytest
import torch

cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")

from sj.cupy.compiler import compile_source, nvrtc_version, supported_archs  # noqa: E402
from sj.cupy.cuda_types import SUPPORTED_DTYPES, cuda_type, preferred_vec  # noqa: E402
from sj.cupy.kernels import KernelSource, backward_kernel, forward_kernel  # noqa: E402
from sj.neuron.builtin import BUILTIN_NEURONS  # noqa: E402
from sj.neuron.declaration import declare  # noqa: E402
from sj.ops.spec import MultiStepSpec  # noqa: E402
from sj.surrogate.declarations import BUILTIN_SURROGATES, surrogates  # noqa: E402
from sj.testing import CUSTOM_NEURON  # noqa: E402

# A user declaration whose names are C/CUDA keywords: generated code must prefix every IR symbol.
KEYWORD_NEURON = declare("sj_cupy_test_keywords", "v + (x - v) / double + register * tanh(v) + Abs(x) * static",
                         params=("double", "register"), aux_states=("static",),
                         post=(("static", "static * 0.5 + s"),), doc="C keywords as names")
NEURONS = [*BUILTIN_NEURONS, CUSTOM_NEURON.name, KEYWORD_NEURON.name]
RESETS = list(itertools.product((False, True), repeat=2))  # soft, detach
FAST = ("-Xnvvm", "-opt=0")

pytestmark = pytest.mark.skipif(not {80, 90} <= set(supported_archs()),
                                reason=f"NVRTC {nvrtc_version()} cannot target sm_80 and sm_90")


def _spec(neuron: str, surrogate: str, soft: bool, detach: bool, store: bool) -> MultiStepSpec:
    return MultiStepSpec(neuron, surrogate, surrogates.get(surrogate).defaults, soft, detach, store)


def _all_kernels(dtype: torch.dtype) -> list[KernelSource]:
    """Every configuration's kernels in ``dtype``. A step body is printed the same for one neuron per thread and for
    a 16-byte access (which wraps it in a loop over the thread's neurons), so the full neuron × surrogate product is
    compiled on the scalar path, and each neuron × reset also on the vector path: every forward variant, one
    surrogate's backward with per-neuron parameters and absent last-state gradients, and the backward with no
    parameter gradient."""
    ct, vec = cuda_type(dtype), preferred_vec(dtype)
    out: list[KernelSource] = []
    for i, (neuron, (soft, detach)) in enumerate(itertools.product(NEURONS, RESETS)):
        for store, save in itertools.product((False, True), repeat=2):
            out.append(forward_kernel(_spec(neuron, "ATan", soft, detach, store), ct, vec, save))
        spec = _spec(neuron, "ATan", soft, detach, True)
        out.append(forward_kernel(spec, ct, 1, True, (True,) * len(spec.program["params"])))
        for j, sg in enumerate(BUILTIN_SURROGATES):
            spec = _spec(neuron, sg, soft, detach, (i + j) % 2 == 0)
            n_params, n_states = len(spec.program["params"]), len(spec.program["states"])
            out.append(backward_kernel(spec, ct, 1, spec.store_v_seq, (True,) * n_params, (j % 2 == 0,) * n_states))
        spec = _spec(neuron, BUILTIN_SURROGATES[i % len(BUILTIN_SURROGATES)], soft, detach, True)
        mask = tuple(k % 2 == i % 2 for k in range(len(spec.program["params"])))
        out.append(backward_kernel(spec, ct, vec, True, mask, (False,) * len(spec.program["states"]), mask))
        out.append(backward_kernel(spec, ct, vec, False, (False,) * len(mask)))
    return out


@pytest.mark.parametrize("arch", [80, 90])
@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES, ids=str)
def test_every_kernel_compiles_to_ptx(dtype: torch.dtype, arch: int, monkeypatch) -> None:
    monkeypatch.setenv("SJ_CUPY_DISK_CACHE", "0")
    kernels = _all_kernels(dtype)
    by_vec: dict[int, list[KernelSource]] = {}
    for k in kernels:
        by_vec.setdefault(k.vec, []).append(k)
    assert len({k.name for k in kernels}) == len(kernels), "kernel names must be unique per configuration"
    for vec, group in by_vec.items():
        unit = group[0].prelude + "".join(k.body for k in group)
        ptx = compile_source(unit, f"all_{cuda_type(dtype).name}_v{vec}", arch, "ptx", FAST, min_blocks=1).decode()
        assert f".target sm_{arch}" in ptx
        for k in group:
            assert f".entry {k.name}(" in ptx, f"{k.name} missing from the PTX"


@pytest.mark.parametrize("arch", [80, 90])
@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES, ids=str)
def test_runtime_options_compile_sample(dtype: torch.dtype, arch: int, monkeypatch) -> None:
    """A sample compiled exactly as the launcher does: one translation unit per kernel, optimised, PTX and CUBIN."""
    monkeypatch.setenv("SJ_CUPY_DISK_CACHE", "0")
    ct, vec = cuda_type(dtype), preferred_vec(dtype)
    spec = _spec("izhikevich", "QPseudoSpike", True, False, True)
    for k in (forward_kernel(spec, ct, vec, True), backward_kernel(spec, ct, vec, True, (True,) * 9)):
        ptx = compile_source(k.source, k.name, arch, "ptx").decode()
        assert f".visible .entry {k.name}(" in ptx
        cubin = compile_source(k.source, k.name, arch, "cubin")
        assert cubin[:4] == b"\x7fELF"
