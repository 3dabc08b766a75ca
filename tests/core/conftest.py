"""Fixtures shared by the sj-core tests."""

import textwrap

import pytest

from sj.plugins import registry


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Put a fake distribution with entry points in group ``sj`` on sys.path; returns a writer of plug-in modules."""

    def make(modules: dict[str, str]) -> None:
        dist = tmp_path / "fake_sj_plugins-1.0.dist-info"
        dist.mkdir(exist_ok=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-sj-plugins\nVersion: 1.0\n")
        lines = ["[sj]"] + [f"{name} = {name}_mod" for name in modules]
        (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for name, src in modules.items():
            (tmp_path / f"{name}_mod.py").write_text(textwrap.dedent(src))
        monkeypatch.syspath_prepend(str(tmp_path))
        registry.reset_registry()

    yield make
    registry.reset_registry()
