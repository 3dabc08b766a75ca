"""The API reference covers every public name with a docstring (docs/_apiref.py decides where each is documented;
tests/docs/test_docs_build.py checks the built reference holds them all)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))

import _apiref  # noqa: E402


def test_every_public_name_has_a_docstring():
    undocumented = _apiref.reference().undocumented
    assert not undocumented, (f"{len(undocumented)} public name(s) without a docstring (a constant needs a `#:` "
                              "comment where it is assigned):\n  " + "\n  ".join(undocumented))


def test_every_source_module_is_discovered():
    """Discovery walks the installed `sj` namespace; every public module file of every package must be found (or be
    reported as needing a missing optional dependency)."""
    modules, unavailable = _apiref.discover()
    expected = set()
    for src in ROOT.glob("packages/*/src"):
        for path in (src / "sj").rglob("*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(parts)
            if name != "sj" and _apiref._is_public_path(name):
                expected.add(name)
    lost = sorted(expected - set(modules) - set(unavailable))
    assert not lost, f"modules not discovered: {lost}"


def test_each_module_belongs_to_its_longest_prefix_group():
    assert _apiref.group_of("sj.neuron") == "neuron"
    assert _apiref.group_of("sj.neuron.declaration") == "neuron"
    assert _apiref.group_of("sj.neuronal") == "other"  # a prefix is a whole path component
    assert _apiref.group_of("sj.cpu.codegen") == "backends"
    assert _apiref.group_of("sj.something_new") == "other"
    assert not {_apiref.group_of(m) for m in _apiref.discover()[0]} - set(_apiref.GROUPS)


def test_every_group_has_a_page():
    for group in _apiref.GROUPS:
        page = ROOT / "docs" / "api" / f"{group}.rst"
        assert f".. sj-api:: {group}" in page.read_text(encoding="utf-8"), page
        assert group in (ROOT / "docs" / "api" / "index.md").read_text(encoding="utf-8")


def test_a_name_exported_twice_is_documented_once_at_the_shorter_path():
    ref = _apiref.reference()
    assert "Converter" in ref.documented["sj.ann2snn"]
    assert "Converter" not in ref.documented["sj.ann2snn.converter"]
    assert ref.elsewhere["sj.ann2snn.converter"]["Converter"] == "sj.ann2snn.Converter"
