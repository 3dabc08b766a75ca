"""Declaring a custom neuron: it gets the multi-step op, its gradient and the conformance kit for free; the
derivations are cached (shipped for built-ins, on disk for user neurons); sympy stays out of import and first use."""

import json
import os
import subprocess
import sys

import pytest
import torch

from sj.cache import publish
from sj.neuron.declaration import DeclarationError, NeuronDecl, declare
from sj.neuron.derived import builtin_derivations, derivation_tag, neuron_program
from sj.neuron.node import BaseNode
from sj.testing import check_case, conformance_cases

ADAPTIVE = declare(
    "test_adaptive_lif", "v + (x - (v - v_reset) - beta * a) / tau", params=("tau", "beta", "tau_a"),
    aux_states=("a",), post=(("a", "a - a / tau_a + s"),),
    doc="LIF with a spike-triggered adaptation current (test neuron)")


class AdaptiveLIF(BaseNode):
    def __init__(self, tau=2.0, beta=0.2, tau_a=5.0, **kw):
        super().__init__(ADAPTIVE, {"tau": tau, "beta": beta, "tau_a": tau_a}, learnable=("beta",),
                         lower_bounds={"tau": 1.0, "tau_a": 1.0}, **kw)


def test_custom_neuron_runs_in_both_step_modes_and_learns():
    torch.manual_seed(0)
    m, s = AdaptiveLIF(step_mode="m").double(), AdaptiveLIF().double()
    x = torch.rand(12, 4, dtype=torch.float64) * 2
    ym = m(x)
    ys = torch.stack([s(xt) for xt in x])
    assert torch.equal(ym, ys) and ym.sum() > 0
    ym.sum().backward()
    assert m.beta.grad is not None and m.beta.grad.abs() > 0


def test_custom_neuron_passes_the_conformance_kit_on_the_reference():
    for case in conformance_cases(neurons=[ADAPTIVE.name], surrogates=["ATan", "Erf"], dtypes=(torch.float64,),
                                  param_values={"tau": 2.0, "beta": 0.2, "tau_a": 5.0}):
        check_case("torch", case)


def test_invalid_declarations_are_rejected_with_the_reason():
    with pytest.raises(DeclarationError, match="reserved"):
        NeuronDecl("bad1", "v + x", params=("x",))
    with pytest.raises(DeclarationError, match="not an aux state"):
        NeuronDecl("bad2", "v + x", post=(("w", "w + s"),))
    with pytest.raises(DeclarationError, match="identifier"):
        NeuronDecl("bad name", "v + x")
    for clash in ("cse0", "grad_v", "sp_alpha"):  # would alias names the derivation generates
        with pytest.raises(DeclarationError, match="not a usable"):
            NeuronDecl("bad3", "v + x * k", params=(clash,))
    with pytest.raises(DeclarationError, match="not a usable"):
        NeuronDecl("bad4", "v + x", params=("a_1",), aux_states=("a",), post=(("a", "a + s"),))
    declare("test_taken", "v + x")
    with pytest.raises(DeclarationError, match="already registered"):
        declare("test_taken", "v + 2 * x")
    declare("test_taken", "v + x")  # identical content: fine
    declare("test_unknown_symbol", "v + x * gain")
    with pytest.raises(ValueError, match=r"unknown symbols \['gain'\]"):
        neuron_program("test_unknown_symbol", False, False)
    declare("test_bad_syntax", "v + (x")
    with pytest.raises(ValueError, match="cannot parse"):
        neuron_program("test_bad_syntax", False, False)


def test_user_derivation_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("SJ_CACHE_DIR", str(tmp_path))
    decl = declare("test_cached_neuron", "v + (x - v) / tau + 0.01", params=("tau",))
    prog = neuron_program(decl.name, True, False)
    files = list((tmp_path / "derived" / derivation_tag()).glob("neuron-test_cached_neuron-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text()) == prog
    assert oct(files[0].stat().st_mode & 0o777) == "0o644"


def test_another_derivation_does_not_read_this_ones_cache(tmp_path, monkeypatch):
    """A cache key names the declaration's content only: an sj-core whose derivation changed (another shipped
    derivations file) must derive afresh instead of running its predecessor's program."""
    from sj.neuron import derived

    monkeypatch.setenv("SJ_CACHE_DIR", str(tmp_path))
    decl = declare("test_tagged_neuron", "v + (x - v) / tau + 0.02", params=("tau",))
    prog = neuron_program(decl.name, False, False)
    (old,) = (tmp_path / "derived" / derivation_tag()).glob("neuron-test_tagged_neuron-*.json")
    stale = json.loads(json.dumps(prog))
    stale["forward"][0][1][1] = 0.5  # another constant: valid in form, as an older derivation's program would be
    old.write_text(json.dumps(stale))
    publish(old, old)
    for key in [k for k in derived._memory if k.startswith("neuron-test_tagged_neuron-")]:
        del derived._memory[key]
    derived._by_name.clear()
    monkeypatch.setattr(derived, "derivation_tag", lambda: "0123456789abcdef")
    assert neuron_program(decl.name, False, False) == prog
    assert (tmp_path / "derived" / "0123456789abcdef" / old.name).exists()


def test_backward_of_builtin_lif_needs_only_h():
    for soft in (False, True):
        assert neuron_program("lif", soft, False)["needs_x"] is False
        assert neuron_program("plif", soft, False)["needs_x"] is False


def test_shipped_derivations_are_current():
    """derived_builtin.json must equal a fresh derivation (run `python -m sj.neuron.derive` after edits)."""
    from sj.neuron import derived

    shipped = json.loads(derived._BUILTIN.read_text())
    fresh = json.loads(json.dumps(builtin_derivations()))
    assert shipped.keys() == fresh.keys()
    stale = [k for k in fresh if fresh[k] != shipped[k]]
    assert not stale, f"stale shipped derivations: {stale[:5]}"


def test_import_and_first_forward_do_not_import_sympy():
    code = ("import sys, torch\nimport sj.neuron\nassert 'sympy' not in sys.modules, 'import'\n"
            "n = sj.neuron.LIFNode(step_mode='m')\nn(torch.rand(4, 3)).sum()\n"
            "n2 = sj.neuron.IzhikevichNode()\nn2(torch.rand(3))\n"
            "assert 'sympy' not in sys.modules, 'first forward'\nprint('ok')")
    env = {**os.environ, "SJ_DISABLE_PLUGINS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
