"""Derived programs read from files are printed into code and run: sj uses a cache file only when it validates
(sj.codegen.validate) and sj.cache trusts it (private directory, digest record); anything else is derived again and
overwritten, an invalid file with a warning naming it. No text from a file reaches ``exec`` unless sj's printer made it
from a validated program."""

import copy
import json
import os
import sys
import warnings

import pytest
import torch

from sj import cache
from sj.backends import torch_codegen
from sj.codegen.printer import Printer
from sj.codegen.torch_printer import TorchPrinter
from sj.codegen.validate import MAX_DEPTH, InvalidProgram, check_neuron_program, check_surrogate_program
from sj.neuron import declaration, derived
from sj.neuron.declaration import declare
from sj.ops import multistep
from sj.surrogate.declarations import surrogates

# a custom neuron whose backward reads x (KLIF-like), so the needs_x flag matters to kernels
DECL = declare("test_cache_guard", "Max(0, k * (v + (x - v) / tau))", params=("tau", "k"))
PARAMS = [1.0, 0.0, 2.0, 0.5]


def _forget(decl=DECL) -> None:
    """Drop every in-memory copy of ``decl``'s programs and generated functions (the next call reads the files)."""
    for key in [k for k in derived._memory if k.startswith(f"neuron-{decl.name}-")]:
        del derived._memory[key]
    for key in [k for k in derived._by_name if k[1] == decl.name]:
        del derived._by_name[key]
    for key in [k for k in torch_codegen._cache if k[0] == decl.name]:
        del torch_codegen._cache[key]


def _run() -> tuple[torch.Tensor, torch.Tensor]:
    x = (torch.arange(12.0, dtype=torch.float64).reshape(3, 4) / 4).requires_grad_()
    # the torch backend prints the program into Python on first use (the exec path); compiled backends keep their
    # kernels in memory across _forget
    spike, (last,), _ = multistep(DECL.name, x, [torch.zeros(4, dtype=torch.float64)], PARAMS, surrogate="Sigmoid",
                                  backend="torch")
    (spike.sum() + last.sum()).backward()
    return torch.cat([spike.detach(), last.detach()[None]]), x.grad


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """A fresh cache holding sj's own derivation of DECL (hard reset); yields (file, expected results)."""
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "sjcache"))
    _forget()
    want = _run()
    (path,) = (tmp_path / "sjcache" / "derived" / derived.derivation_tag()).glob(f"neuron-{DECL.name}-*-hard-0.json")
    _forget()
    yield path, want
    _forget()


def _tamper(path, edit) -> None:
    prog = json.loads(path.read_text())
    edit(prog)
    path.write_text(json.dumps(prog))
    cache.publish(path, path)  # a matching digest record: only validation stands in the way


def _assert_rederived(path, want, caplog_warnings, match: str) -> None:
    assert any(str(path) in str(w.message) and match in str(w.message) for w in caplog_warnings), \
        [str(w.message) for w in caplog_warnings]
    got = _run()
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    check_neuron_program(json.loads(path.read_text()), DECL, False, False)  # overwritten with a valid program
    assert cache.verified(path)


def test_an_edited_symbol_does_not_run_a_command(cached, tmp_path):
    """The issue: a symbol edited into a shell command ran it, silently, on the default torch backend."""
    path, want = cached
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    _tamper(path, lambda p: p["forward"].__setitem__(0, ["h", ["+", payload, "x"]]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _run()
    assert not marker.exists()
    assert all(torch.equal(a, b) for a, b in zip(got, want))
    _assert_rederived(path, want, caught, "reads \"__import__")


@pytest.mark.parametrize("edit, match", [
    (lambda p: p.__setitem__("needs_x", False), "needs_x is False but the backward reads x"),
    (lambda p: p["backward"].append(["os", 1.0]), "'os' is not a name the derivation binds"),
    (lambda p: p["forward"].__setitem__(2, ["s", ["system", "z"]]), "unknown operator 'system'"),
    (lambda p: p.__setitem__("hash", "0" * 16), "hash is '0000000000000000'"),
], ids=["needs_x", "binding", "operator", "key"])
def test_an_invalid_file_is_rederived_with_a_warning(cached, edit, match):
    path, want = cached
    _tamper(path, edit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run()
    _assert_rederived(path, want, caught, match)


def test_garbage_deep_nesting_and_size_are_refused_not_crashes(cached):
    path, want = cached
    for data, match in [(b"\x00not json", "Expecting value"), (b"[" * 100_000 + b"]" * 100_000, "recursion"),
                        (b" " * (derived.MAX_CACHE_FILE_BYTES + 1), "larger than")]:
        path.write_bytes(data)
        cache.publish(path, path)
        _forget()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _run()
        _assert_rederived(path, want, caught, match)
        _forget()


def test_a_valid_file_sj_did_not_record_is_replaced_silently(cached):
    """No digest record (an older sj) or another content than recorded: derived again, no warning needed since the
    content is well-formed, and the file is rewritten with its record."""
    path, want = cached
    cache.record_path(path).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _run()
    assert all(torch.equal(a, b) for a, b in zip(got, want)) and cache.verified(path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_cache_other_users_could_write_is_not_read(cached):
    path, want = cached
    derived._untrusted_warned.clear()
    payload = "__import__('os').system('false')"
    _tamper(path, lambda p: p["forward"].__setitem__(0, ["h", payload]))
    os.chmod(path.parent, 0o777)
    try:
        with pytest.warns(RuntimeWarning, match="not using the derivation cache.*writable by group or others"):
            got = _run()
        assert all(torch.equal(a, b) for a, b in zip(got, want))
        assert payload in path.read_text()  # neither read nor rewritten
    finally:
        os.chmod(path.parent, 0o700)
        derived._untrusted_warned.clear()


def test_every_shipped_derivation_validates():
    """The validator accepts exactly what the derivation produces (derived_builtin.json holds every built-in)."""
    for key, prog in json.loads(derived._BUILTIN.read_text()).items():
        if key.startswith("neuron-"):
            check_neuron_program(prog, declaration.get(prog["neuron"]), prog["soft_reset"], prog["detach_reset"])
        else:
            check_surrogate_program(prog, surrogates.get(prog["surrogate"]))


def test_validator_details():
    lif = derived.neuron_program("lif", False, False)
    sig = derived.surrogate_program("Sigmoid")
    bad = [
        (lambda p: p["backward"].append(["cse99", True]), "True is not an expression"),
        (lambda p: p["forward_out"].pop("v"), "outputs must be exactly"),
        (lambda p: p["backward"].append(["cse99", ["neg", "z", "s"]]), "'neg' with 2 operands"),
        (lambda p: p["backward"].append(["cse99", ["+", ["surrogate", "z"], 1]]), "'surrogate' inside"),
        (lambda p: p["backward"].append(["cse99", 10**40]), "out of range"),
        (lambda p: p.__setitem__("extra", 1), "fields"),
        (lambda p: p["forward_out"].__setitem__("v", "cse1"), "neither an input nor bound before"),
    ]
    for edit, match in bad:
        p = copy.deepcopy(lif)
        edit(p)
        with pytest.raises(InvalidProgram, match=match):
            check_neuron_program(p, declaration.get("lif"), False, False)
    deep: list = ["neg", "z"]
    for _ in range(MAX_DEPTH):
        deep = ["neg", deep]
    with pytest.raises(InvalidProgram, match="nested deeper"):
        check_surrogate_program({**sig, "primitive": deep}, surrogates.get("Sigmoid"))
    with pytest.raises(InvalidProgram, match="surrogate is 'ATan', expected 'Sigmoid'"):
        check_surrogate_program({**sig, "surrogate": "ATan"}, surrogates.get("Sigmoid"))


@pytest.mark.parametrize("printer", [Printer(), TorchPrinter()])
def test_printers_print_only_ir(printer):
    with pytest.raises(ValueError, match="not an IR symbol"):
        printer.expr(["+", "x", "__import__('os')"])
    with pytest.raises(ValueError, match="not an IR expression"):
        printer.expr(["os.system", "x"])
    with pytest.raises(ValueError, match="not an IR symbol"):
        printer.assignments([["a; b", 1]])
    assert printer.expr(["exp", ["neg", "x"]])
