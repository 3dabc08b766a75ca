"""Generated Triton kernels compile ahead of time for sm_80 and sm_90 without a GPU, as sj-triton compiles them at
run time: the covering set of :mod:`sj.triton.aot` (every neuron's forward, every surrogate's backward, LIF's
unaligned specialisation; fp16, bf16, fp32), and LIF's PTX uses 16-byte vector accesses when aligned, element
accesses when not. The full product is ``python -m sj.triton.aot --full`` (run by ``benchmarks/gpu_check.sh``).
"""

from __future__ import annotations

import os
import re

import pytest
import torch

if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):  # compiled kernels only
    pytest.skip("runs in its own session without TRITON_INTERPRET (tests/triton/test_triton_compiled.py)",
                allow_module_level=True)
from triton.backends.compiler import GPUTarget

from sj.triton import aot, tuning
from sj.triton.launch import kernels_for
from sj.triton.specialize import backward_variant, compile_variant, forward_variant


@pytest.mark.parametrize("arch", [80, 90])
@pytest.mark.parametrize("dtype", ["fp16", "bf16", "fp32"])
def test_covering_set_compiles(dtype, arch):
    cases = aot.covering_set(aot.DTYPES[dtype])
    assert {c.neuron for c in cases if c.variant.kind == "forward"} == set(aot._neurons())
    assert {c.surrogate for c in cases if c.variant.kind == "backward"} == set(aot._surrogates())
    assert {c.variant.aligned for c in cases} == {True, False}
    failed = [f"{r['case']}: {r['error']}" for r in aot.compile_all(cases, [arch]) if not r["ok"]]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32], ids=str)
def test_lif_uses_16_byte_vector_accesses(dtype):
    """Aligned LIF forward and backward load and store with ``.v4.b32`` (16 bytes); the unaligned specialisation
    falls back to element accesses."""
    spec = aot.Case("lif", "ATan", False, False, None).spec()
    config = tuning.default_config(dtype, aot.LARGE_N)
    for aligned in (True, False):
        for v in (forward_variant(dtype, (False,) * 3, True, False, aligned, config),
                  backward_variant(dtype, (False,) * 3, (False, False, True), (False,), False, aligned, config)):
            ptx = compile_variant(kernels_for(spec), v, GPUTarget("cuda", 90, 32)).asm["ptx"]
            accesses = set(re.findall(r"(?:ld|st)\.global(?:\.\w+)*", ptx))
            vector = {a for a in accesses if a.endswith(".v4.b32")}
            if aligned:
                assert {a[:2] for a in vector} == {"ld", "st"}, accesses
            else:
                assert not vector, accesses


def test_time_steps_are_a_runtime_argument():
    """One binary serves every T: T is an i32 kernel parameter, never folded into the code."""
    spec = aot.Case("lif", "ATan", False, False, None).spec()
    v = forward_variant(torch.float32, (False,) * 3, True, False, True, (512, 4))
    compiled = compile_variant(kernels_for(spec), v, GPUTarget("cuda", 90, 32))
    assert compiled.src.signature["T"] == "i32"
    index_of_t = list(compiled.src.signature).index("T")
    assert (index_of_t,) not in compiled.src.constants
