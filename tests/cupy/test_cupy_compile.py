"""Every generated kernel compiles with NVRTC to PTX for sm_80 and sm_90 (no GPU needed).

The full product (every built-in neuron plus user-declared ones × every surrogate × hard/soft × detach × dtype, and
all forward variants) is compiled with NVVM's optimiser off (``-Xnvvm -opt=0``: the same front end and PTX code
generation, a tenth of the time); a sample is also compiled exactly as at run time (optimised, and to CUBIN).
"""

from __future__ import annotations

import itertools

import pytest
import torch

cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12)")

from sj.cupy.compiler import compile_source, nvrtc_version, supported_archs  # noqa: E402
from sj.cupy.cuda_types import SUPPORTED_DTYPES, VECS, cuda_type, preferred_vec  # noqa: E402
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
    """Every configuration's kernels in ``dtype``, at the vec the launcher prefers, plus the other vec and the
    no-parameter-gradient backward on one surrogate per neuron."""
    ct, vec = cuda_type(dtype), preferred_vec(dtype)
    other = next(v for v in VECS if v != vec)
    out: list[KernelSource] = []
    for i, (neuron, (soft, detach)) in enumerate(itertools.product(NEURONS, RESETS)):
        for store, save in itertools.product((False, True), repeat=2):
            out.append(forward_kernel(_spec(neuron, "ATan", soft, detach, store), ct, vec, save))
        out.append(forward_kernel(_spec(neuron, "ATan", soft, detach, True), ct, other, True))
        for j, sg in enumerate(BUILTIN_SURROGATES):
            spec = _spec(neuron, sg, soft, detach, (i + j) % 2 == 0)
            n_params = len(spec.program["params"])
            out.append(backward_kernel(spec, ct, vec, spec.store_v_seq, (True,) * n_params))
        spec = _spec(neuron, BUILTIN_SURROGATES[i % len(BUILTIN_SURROGATES)], soft, detach, True)
        mask = tuple(k % 2 == i % 2 for k in range(len(spec.program["params"])))
        out.append(backward_kernel(spec, ct, other, True, mask))
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
        ptx = compile_source(unit, f"all_{cuda_type(dtype).name}_v{vec}", arch, "ptx", FAST).decode()
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
