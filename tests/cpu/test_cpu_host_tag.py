"""Run-time libraries are built with -march=native: a cache shared by machines of different CPUs (a network home
directory) keeps one library per instruction set instead of handing a machine code it cannot run."""

import ctypes

import pytest

from sj.cpu import compiler

SOURCE = "int sj_probe(void) { return 7; }\n"


@pytest.fixture
def fresh_tag():
    compiler.host_tag.cache_clear()
    yield
    compiler.host_tag.cache_clear()


@pytest.mark.parametrize("line", ["flags\t\t: fpu sse2 avx2", "Features\t: fp asimd sve", "isa\t\t: rv64imafdc"])
def test_host_tag_follows_the_cpu_feature_line(tmp_path, monkeypatch, fresh_tag, line):
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(compiler, "CPUINFO", str(cpuinfo))
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\n{line}\n\nprocessor\t: 1\n{line}\n")
    first = compiler.host_tag()
    compiler.host_tag.cache_clear()
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\n{line} avx512f\n")
    assert compiler.host_tag() != first  # one more instruction-set feature: another tag
    compiler.host_tag.cache_clear()
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Another name\n{line}\n")
    assert compiler.host_tag() == first  # the same features under another name: the same tag


def test_host_tag_without_cpuinfo_is_still_a_tag(tmp_path, monkeypatch, fresh_tag):
    monkeypatch.setattr(compiler, "CPUINFO", str(tmp_path / "absent"))
    tag = compiler.host_tag()
    assert len(tag) == 12 and int(tag, 16) >= 0


@pytest.mark.skipif(compiler.find_compiler() is None, reason="no C compiler")
def test_cached_library_is_kept_per_host_tag(tmp_path, monkeypatch):
    log = tmp_path / "jit.log"
    paths = {}
    for tag in ("aaaa", "bbbb", "aaaa"):
        monkeypatch.setattr(compiler, "host_tag", lambda tag=tag: tag)
        paths.setdefault(tag, set()).add(compiler.cached_library(SOURCE, "k", tmp_path / "cache", log))
    assert {t: [p.name for p in ps] for t, ps in paths.items()} == {
        t: [f"k-{t}{compiler.library_suffix()}"] for t in ("aaaa", "bbbb")}
    assert len(log.read_text().splitlines()) == 2  # the second "aaaa" found its library: no compile
    assert ctypes.CDLL(str(paths["bbbb"].pop())).sj_probe() == 7
