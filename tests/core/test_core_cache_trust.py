"""sj.cache: the rules under which sj loads artefacts from its on-disk caches."""

import os
import stat
import sys

import pytest

from sj import cache

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@pytest.fixture
def root(tmp_path, monkeypatch):
    r = tmp_path / "sjcache"
    monkeypatch.setenv(cache.CACHE_ENV, str(r))
    return r


def test_private_dir_is_created_with_mode_0700(root):
    d = cache.private_dir("cpu")
    assert d == root.resolve() / "cpu"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_an_existing_0755_directory_of_ours_is_accepted(root):
    (root / "cpu").mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(root / "cpu", 0o755)
    assert cache.private_dir("cpu").is_dir()


@pytest.mark.parametrize("bits", [0o775, 0o757, 0o777])
def test_a_directory_writable_by_group_or_others_is_refused(root, bits):
    (root / "cpu").mkdir(parents=True)
    os.chmod(root / "cpu", bits)
    with pytest.raises(cache.UntrustedCacheError, match=r"cpu is writable by group or others.*chmod 700"):
        cache.private_dir("cpu")


def test_a_writable_root_is_refused_too(root):
    root.mkdir()
    os.chmod(root, 0o777)
    with pytest.raises(cache.UntrustedCacheError, match=str(root)):
        cache.private_dir("cpu")


def test_an_ancestor_writable_by_others_without_sticky_bit_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv(cache.CACHE_ENV, str(shared / "sj"))
    with pytest.raises(cache.UntrustedCacheError, match="without the sticky bit"):
        cache.private_dir("cpu")
    os.chmod(shared, 0o1777)  # sticky, as /tmp: others cannot rename what they do not own
    assert cache.private_dir("cpu").is_dir()


def test_a_directory_owned_by_another_user_is_refused(root, monkeypatch):
    (root / "cpu").mkdir(parents=True)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(root).st_uid + 4242)
    with pytest.raises(cache.UntrustedCacheError, match="owned by uid"):
        cache.private_dir("cpu")


def test_a_link_is_judged_by_where_it_leads(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.chmod(target, 0o777)
    (tmp_path / "link").symlink_to(target)
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "link"))
    with pytest.raises(cache.UntrustedCacheError, match="elsewhere"):
        cache.private_dir()


def test_publish_then_verified_and_tampering_is_detected(root):
    d = cache.private_dir("x")
    built = d / "lib.so.build"
    built.write_bytes(b"\x7fELF compiled")
    art = cache.publish(built, d / "lib.so")
    assert not built.exists() and cache.verified(art)
    assert stat.S_IMODE(cache.record_path(art).stat().st_mode) == 0o600
    art.write_bytes(b"\x7fELF planted")
    assert not cache.verified(art)


def test_published_bytes_are_read_back_once_and_only_while_unchanged(root):
    d = cache.private_dir("x")
    art = cache.publish_bytes(b"program", d / "p.json", mode=0o600)
    assert stat.S_IMODE(art.stat().st_mode) == 0o600 and cache.verified(art)
    assert cache.read_verified(art, limit=7) == b"program"
    with pytest.raises(ValueError, match="larger than 6 bytes"):  # bounded before anything is hashed
        cache.read_verified(art, limit=6)
    art.write_bytes(b"edited!")
    assert cache.read_verified(art, limit=100) is None
    (d / "planted.json").write_bytes(b"program")  # no record
    assert cache.read_verified(d / "planted.json", limit=100) is None
    assert cache.read_verified(d / "absent.json", limit=100) is None


def test_an_artefact_without_a_record_is_not_verified(root):
    d = cache.private_dir("x")
    (d / "planted.so").write_bytes(b"anything")
    assert not cache.verified(d / "planted.so")
    assert not cache.verified(d / "absent.so")
    cache.record_path(d / "planted.so").write_text("\n")  # an empty record names no content
    assert not cache.verified(d / "planted.so")
