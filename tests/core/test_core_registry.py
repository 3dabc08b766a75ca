"""The plug-in registry: entry points, isolation of broken plug-ins, kill switch, status, the CLI, third parties."""

import json
import subprocess
import sys

import pytest
import torch

from sj.backends import registry as backend_registry
from sj.backends.base import Backend
from sj.backends.registry import BackendError
from sj.cli.main import main
from sj.plugins import registry
from sj.testing import check_case, conformance_cases

GOOD = """
    import torch
    from sj.backends.base import Backend
    from sj.backends.torch_backend import run_backward, run_forward
    from sj.backends.torch_codegen import step_fns
    from sj.plugins.hookspecs import hookimpl

    class Good(Backend):
        name = "good"
        def supports(self, spec, device, dtype):
            return None if spec.neuron != "qif" else "no quadratic neurons here"
        def forward(self, spec, x, s, p, save):
            return run_forward(step_fns(spec), spec, x, s, p, save)
        def backward(self, spec, inputs):
            return run_backward(step_fns(spec), spec, inputs)

    @hookimpl
    def sj_backends():
        return [Good()]
"""


def test_broken_plugin_is_isolated_and_reported(fake_plugins):
    fake_plugins({"good": GOOD, "broken": "raise ImportError('libfoo.so: cannot open shared object file')",
                  "badhook": """
                      from sj.plugins.hookspecs import hookimpl
                      @hookimpl
                      def sj_backends():
                          raise RuntimeError('probe exploded')
                  """})
    names = backend_registry.backends()
    assert "good" in names and "torch" in names
    status = {p.name: p for p in registry.plugin_status()}
    assert status["broken"].loaded is False and "libfoo.so" in status["broken"].error
    assert any(not p.loaded and "probe exploded" in (p.error or "") for p in registry.plugin_status())
    # a call naming a backend that is not there says which plug-ins failed, and why
    with pytest.raises(BackendError, match=r"unknown backend 'broken'.*plug-ins that did not load: broken: "
                                           r"ImportError: libfoo.so.*badhook: RuntimeError: probe exploded"):
        backend_registry.get_backend("broken")


def test_kill_switch_disables_external_plugins(fake_plugins, monkeypatch):
    monkeypatch.setenv("SJ_DISABLE_PLUGINS", "1")
    fake_plugins({"good": GOOD})
    assert "good" not in backend_registry.backends()
    assert "torch" in backend_registry.backends()  # the reference is always there
    assert any(p.name == "good" and "disabled" in p.error for p in registry.plugin_status())


def test_kill_switch_by_name(fake_plugins, monkeypatch):
    monkeypatch.setenv("SJ_DISABLE_PLUGINS", "other,good")
    fake_plugins({"good": GOOD})
    assert "good" not in backend_registry.backends()


def test_set_backend_validates_against_what_the_backend_supports(fake_plugins):
    from sj import functional, neuron

    fake_plugins({"good": GOOD})
    net = torch.nn.Sequential(neuron.LIFNode(step_mode="m"), neuron.QIFNode(step_mode="m"))
    with pytest.raises(BackendError, match="no quadratic neurons"):
        functional.set_backend(net, "good")
    assert net[0].backend == "auto"  # nothing changed (no backend named: the default choice)
    assert functional.set_backend(net, "good", skip_unsupported=True) == ["1"]
    assert net[0].backend == "good" and net[1].backend == "auto"
    with pytest.raises(BackendError, match="unknown backend 'nope'"):
        functional.set_backend(net, "nope")


def test_module_with_unsupported_backend_fails_loudly_at_forward(fake_plugins):
    from sj import neuron

    fake_plugins({"good": GOOD})
    node = neuron.QIFNode(step_mode="m", backend="good")
    with pytest.raises(BackendError, match="no quadratic neurons"):
        node(torch.rand(3, 2))


def test_status_and_cli(capsys, fake_plugins):
    fake_plugins({"good": GOOD, "broken": "raise ImportError('nope')"})
    rows = backend_registry.status()
    assert rows[0].name == "torch" and rows[0].available
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "available" in out and "plug-in broken" in out
    assert main(["backends", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"torch", "good"} <= {b["name"] for b in data["backends"]}


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "sj.cli.main", "backends"], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[0].startswith("torch")


def test_unavailable_backend_reports_reason(fake_plugins):
    fake_plugins({"ghost": """
        from sj.backends.base import Backend
        from sj.plugins.hookspecs import hookimpl
        class Ghost(Backend):
            name = "ghost"
            def availability(self):
                return "needs a ghost card"
            def supports(self, spec, device, dtype): return None
            def forward(self, *a): raise AssertionError("must not run")
            def backward(self, *a): raise AssertionError("must not run")
        @hookimpl
        def sj_backends():
            return [Ghost()]
    """})
    row = next(r for r in backend_registry.status() if r.name == "ghost")
    assert not row.available and row.reason == "needs a ghost card"
    from sj import neuron

    with pytest.raises(BackendError, match="needs a ghost card"):
        neuron.LIFNode(step_mode="m", backend="ghost")(torch.rand(2, 2))


# ------------------------------------------------------------------ the third-party package under tests/core/
def test_third_party_backend_is_installed_through_its_entry_point():
    try:
        import sj_delegate_backend
    except ImportError:
        pytest.fail("tests/core/delegate_backend is not installed in the test environment (see hatch.toml)")
    registry.reset_registry()
    assert isinstance(backend_registry.get_backend("delegate"), Backend)
    assert any(p.name == "delegate" and p.loaded for p in registry.plugin_status())
    before = dict(sj_delegate_backend.calls)
    from sj import neuron

    x = torch.rand(4, 3, requires_grad=True)
    neuron.LIFNode(step_mode="m", backend="delegate")(x).sum().backward()
    assert sj_delegate_backend.calls["forward"] == before["forward"] + 1
    assert sj_delegate_backend.calls["backward"] == before["backward"] + 1


@pytest.mark.parametrize("case", conformance_cases(dtypes=(torch.float32, torch.float64))[::7], ids=str)
def test_third_party_backend_passes_conformance(case):
    check_case("delegate", case)


def test_conformance_kit_catches_a_wrong_backend(fake_plugins):
    """The kit can fail: a backend with a 1 % error in the input gradient is rejected, as are a wrong reset and a
    kernel that writes into its initial state."""
    fake_plugins({"wrong": GOOD.replace('name = "good"', 'name = "wrong"').replace(
        "return run_backward(step_fns(spec), spec, inputs)",
        "gx, gs, gp = run_backward(step_fns(spec), spec, inputs)\n            return gx * 1.01, gs, gp"),
        "softbug": GOOD.replace('name = "good"', 'name = "softbug"').replace(
        "return run_forward(step_fns(spec), spec, x, s, p, save)",
        "import dataclasses\n            bad = dataclasses.replace(spec, soft_reset=not spec.soft_reset)\n"
        "            return run_forward(step_fns(bad), bad, x, s, p, save)"),
        "scribbler": GOOD.replace('name = "good"', 'name = "scribbler"').replace(
        "return run_forward(step_fns(spec), spec, x, s, p, save)",
        "out = run_forward(step_fns(spec), spec, x, s, p, save)\n            s[0].add_(1.0)\n            return out")})
    case = next(c for c in conformance_cases() if c.neuron == "lif" and c.dtype == torch.float64 and c.shape[0] == 8)
    with pytest.raises(AssertionError, match="grad x"):
        check_case("wrong", case)
    with pytest.raises(AssertionError):
        check_case("softbug", case)
    with pytest.raises(AssertionError, match="wrote into its input initial state 0"):
        check_case("scribbler", case)
