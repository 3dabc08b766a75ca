"""No backend named (``backend="auto"``, the default of neurons and of ``multistep``): each call runs on the
available backend of highest priority that supports it and has no ``default_reason`` against it — a fixed order by
capability, decided once per configuration, device type and dtype, never by timing; a named backend still forces
itself."""

import json

import pytest
import torch

from sj import neuron
from sj.backends import registry as backend_registry
from sj.cli.main import main
from sj.ops import MultiStepSpec, multistep

# Backends that record every call, with a priority and a default_reason taken from the module's constants.
RECORDING = """
    import torch
    from sj.backends.base import Backend
    from sj.backends.torch_backend import run_backward, run_forward
    from sj.backends.torch_codegen import step_fns
    from sj.plugins.hookspecs import hookimpl

    CALLS = []

    class Recording(Backend):
        def __init__(self, name, priority, refuse=(), decline=()):
            self.name, self.priority, self.refuse, self.decline = name, priority, refuse, decline
        def supports(self, spec, device, dtype):
            return "not this neuron" if spec.neuron in self.refuse else None
        def default_reason(self, spec, device, dtype):
            return "only when asked" if spec.neuron in self.decline else None
        def forward(self, spec, x, s, p, save):
            CALLS.append((self.name, "forward", spec.neuron))
            return run_forward(step_fns(spec), spec, x, s, p, save)
        def backward(self, spec, inputs):
            CALLS.append((self.name, "backward", spec.neuron))
            return run_backward(step_fns(spec), spec, inputs)

    @hookimpl
    def sj_backends():
        return [Recording("fast", 50, refuse=("qif",), decline=("eif",)), Recording("slow", 40),
                Recording("level", 0)]
"""


@pytest.fixture
def recording(fake_plugins):
    fake_plugins({"rec": RECORDING})
    import rec_mod

    rec_mod.CALLS.clear()
    return rec_mod.CALLS


def _spec(neuron_name: str) -> MultiStepSpec:
    return MultiStepSpec(neuron_name, "ATan", (2.0,), False, False, False)


def test_the_default_is_the_highest_priority_backend_that_supports_the_call(recording):
    cpu, f32 = torch.device("cpu"), torch.float32
    assert backend_registry.default_choice(_spec("lif"), cpu, f32) == ("fast", [])
    name, passed = backend_registry.default_choice(_spec("qif"), cpu, f32)  # "fast" does not support QIF
    assert name == "slow" and passed[0].startswith("fast: backend 'fast' does not support")
    name, passed = backend_registry.default_choice(_spec("eif"), cpu, f32)  # supports EIF, declines the default
    assert name == "slow" and passed == ["fast: only when asked"]


def test_torch_wins_a_tie_of_priority(recording, monkeypatch):
    for backend in backend_registry.backends().values():  # the fakes and the installed plug-ins alike
        monkeypatch.setattr(backend, "priority", 0)
    assert backend_registry.default_choice(_spec("lif"), torch.device("cpu"), torch.float32)[0] == "torch"


def test_forward_and_backward_of_a_call_run_on_the_default_and_a_named_backend_forces_itself(recording):
    x = torch.rand(4, 6, requires_grad=True)
    spike, _, _ = multistep("lif", x, [torch.zeros(6)], [1.0, 0.0, 2.0], surrogate="ATan")
    spike.sum().backward()
    assert recording == [("fast", "forward", "lif"), ("fast", "backward", "lif")]
    recording.clear()
    multistep("lif", x.detach(), [torch.zeros(6)], [1.0, 0.0, 2.0], surrogate="ATan", backend="level")
    assert recording == [("level", "forward", "lif")]


def test_neurons_default_to_the_automatic_choice(recording):
    lif, qif = neuron.LIFNode(step_mode="m"), neuron.QIFNode(step_mode="m")
    assert lif.backend == qif.backend == "auto"
    x = torch.rand(3, 2, 5)
    lif(x), qif(x)
    assert [(b, n) for b, _, n in recording] == [("fast", "lif"), ("slow", "qif")]
    recording.clear()
    neuron.LIFNode(step_mode="m", backend="slow")(x)
    assert recording == [("slow", "forward", "lif")]


def test_the_choice_is_made_once_per_configuration(recording, monkeypatch):
    spec, calls = _spec("lif"), []
    real = backend_registry.default_choice
    monkeypatch.setattr(backend_registry, "default_choice", lambda *a: calls.append(a) or real(*a))
    for _ in range(3):
        assert backend_registry.resolve("auto", spec, torch.device("cpu"), torch.float32) == "fast"
    assert len(calls) == 1
    assert backend_registry.resolve("slow", spec, torch.device("cpu"), torch.float32) == "slow"


def test_sj_backends_says_what_the_default_picks(recording, capsys):
    assert main(["backends", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["default"]
    cpu32 = next(r for r in rows if r["device"] == "cpu" and r["dtype"] == "float32")
    assert cpu32["backend"] == "fast" and cpu32["passed_over"] == []
    assert main(["backends"]) == 0
    assert "cpu   float32   -> fast" in capsys.readouterr().out


def test_triton_under_its_interpreter_is_never_the_default_on_cpu():
    backend = backend_registry.backends().get("triton")
    if backend is None:
        pytest.skip("sj-triton is not installed")
    reason = backend.default_reason(_spec("lif"), torch.device("cpu"), torch.float32)
    assert reason is not None and "interpreter" in reason
    assert backend_registry.default_choice(_spec("lif"), torch.device("cpu"), torch.float32)[0] != "triton"


def test_cpu_is_not_the_default_where_it_can_neither_load_nor_compile_the_kernels(monkeypatch):
    backend = backend_registry.backends().get("cpu")
    if backend is None:
        pytest.skip("sj-cpu is not installed")
    from sj.cpu import compiler

    monkeypatch.setattr(compiler, "find_compiler", lambda: None)
    cold = _spec("qif")  # outside the prebuilt hot set
    assert "no C compiler" in backend.default_reason(cold, torch.device("cpu"), torch.float64)
    assert backend_registry.default_choice(cold, torch.device("cpu"), torch.float64)[0] == "torch"
