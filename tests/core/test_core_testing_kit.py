"""The conformance kit's 16-bit rule (sj.testing.gradient_may_jump, check_case(gradients=False)), checked once here
for every backend's suite that uses it; the capture-safety check (sj.testing.capture) on backends that pass and fail
it."""

import contextlib

import pytest
import torch

import sj.backends.registry as backend_registry
from sj.backends.base import Backend
from sj.backends.registry import get_backend
from sj.plugins.hookspecs import hookimpl
from sj.plugins.registry import plugin_manager
from sj.testing import (
    HALF_DTYPES,
    JUMP_NEURONS,
    JUMP_SURROGATES,
    check_case,
    conformance_cases,
    gradient_may_jump,
)
from sj.testing.capture import check_capture_safe


def test_the_16_bit_split_still_covers_every_neuron_and_surrogate():
    """Cases with gradients cover all but the jump surrogates and neurons in each 16-bit dtype; the forward-only rest
    covers those. (A backend suite once dropped cases by hand and lost three surrogates from 16 bits.)"""
    full = conformance_cases()
    neurons, surrogates = {c.neuron for c in full}, {c.surrogate for c in full}
    half = conformance_cases(dtypes=HALF_DTYPES)
    with_gradients = [c for c in half if not gradient_may_jump(c)]
    forward_only = [c for c in half if gradient_may_jump(c)]
    assert {c.surrogate for c in with_gradients} == surrogates - set(JUMP_SURROGATES)
    for dtype in HALF_DTYPES:
        assert {c.neuron for c in with_gradients if c.dtype == dtype} == neurons - set(JUMP_NEURONS)
    assert {c.surrogate for c in forward_only} >= set(JUMP_SURROGATES)
    assert {c.neuron for c in forward_only} >= set(JUMP_NEURONS)
    assert not any(gradient_may_jump(c) for c in full)  # float32/float64 gradients are always compared


class _WrongGradient(Backend):
    """The reference, with x's gradient doubled: a backend whose forward is right and whose backward is not."""

    name = "wrong_gradient"

    def supports(self, spec, device, dtype):
        return None if torch.device(device).type == "cpu" else "CPU only"

    def forward(self, spec, x_seq, state_init, params, save):
        return get_backend("torch").forward(spec, x_seq, state_init, params, save)

    def backward(self, spec, inputs):
        grad_x, grad_init, grad_params = get_backend("torch").backward(spec, inputs)
        return grad_x * 2, grad_init, grad_params


class _Plugin:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @hookimpl
    def sj_backends(self):
        return [self.backend]


@contextlib.contextmanager
def _registered(backend: Backend):
    plugin_manager().register(_Plugin(backend), name=f"{backend.name}_plugin")
    backend_registry.clear_cache()
    try:
        yield backend.name
    finally:
        plugin_manager().unregister(name=f"{backend.name}_plugin")
        backend_registry.clear_cache()


@pytest.fixture
def wrong_gradient_backend():
    with _registered(_WrongGradient()) as name:
        yield name


def test_gradients_false_compares_the_forward_only(wrong_gradient_backend):
    case = next(c for c in conformance_cases(neurons=["lif"], surrogates=["ATan"], dtypes=(torch.float64,)))
    check_case(wrong_gradient_backend, case, gradients=False)
    with pytest.raises(AssertionError, match="grad x"):
        check_case(wrong_gradient_backend, case)


class _Launching(Backend):
    """What a GPU backend's host path does with its launches stubbed: allocate the outputs, launch nothing.
    ``sync``: it also reads tau back to the host, as a backend choosing a kernel by value would."""

    def __init__(self, sync: bool) -> None:
        self.name, self.sync = ("syncing" if sync else "launching"), sync

    def supports(self, spec, device, dtype):
        return None

    def forward(self, spec, x_seq, state_init, params, save):
        if self.sync:
            float(params[-1])
        return (torch.empty_like(x_seq), [torch.empty_like(s) for s in state_init], None,
                [torch.empty_like(x_seq)] if save else [])

    def backward(self, spec, inputs):
        return (torch.empty_like(inputs.grad_spike), [torch.empty_like(s) for s in inputs.state_init],
                [torch.empty_like(p) if wanted else None for p, wanted in zip(inputs.params, inputs.params_need_grad)])


def test_capture_safety_passes_a_launch_only_host_path_and_names_what_breaks_capture():
    with _registered(_Launching(sync=False)) as name:
        check_capture_safe(name)
    with _registered(_Launching(sync=True)) as name, pytest.raises(AssertionError, match="_local_scalar_dense"):
        check_capture_safe(name)
    with pytest.raises(AssertionError, match="torch forward runs more than output allocations"):
        check_capture_safe("torch")  # the reference computes on the host path: nothing to capture around
