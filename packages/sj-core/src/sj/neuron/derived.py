"""Cached derivations: the forward/backward programs of neurons and surrogates, without importing sympy.

Lookup order: memory → ``derived_builtin.json`` shipped with sj-core (every built-in neuron and surrogate) → the
user cache (``$SJ_CACHE_DIR`` or ``~/.cache/sj``, ``derived/<tag>/<key>.json``) → derive with sympy and write the user
cache atomically (temporary file + rename, safe under concurrent processes).

Programs are printed into code and run, so a file is used only as :mod:`sj.cache` allows (a private directory, the
digest recorded when sj wrote it) and only when it validates (:mod:`sj.codegen.validate`: the form the derivation
produces for this very declaration). Anything else is derived again and overwritten; an invalid file with a warning
naming it. ``<tag>`` is a digest of the shipped derivations: a key names a declaration's content, not the derivation
that produced the program, so an sj-core whose derivation changed reads a cache of its own instead of its
predecessor's programs.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from functools import cache
from pathlib import Path

from sj.cache import UntrustedCacheError, atomic_write, private_dir, publish_bytes, read_verified
from sj.codegen.validate import InvalidProgram, check_neuron_program, check_surrogate_program
from sj.neuron import declaration

_BUILTIN = Path(__file__).with_name("derived_builtin.json")
_memory: dict[str, dict] = {}
# By registered name: a name never changes content once registered (sj.decl_registry), and this lookup runs on
# every call of the multi-step op.
_by_name: dict[tuple, dict] = {}


@cache
def _builtin() -> dict[str, dict]:
    if not _BUILTIN.exists():
        return {}
    return json.loads(_BUILTIN.read_text())


@cache
def derivation_tag() -> str:
    """Digest (16 hex digits) of ``derived_builtin.json``: it changes whenever the derivation's output does (a test
    holds the shipped file equal to a fresh derivation)."""
    return hashlib.sha256(_BUILTIN.read_bytes()).hexdigest()[:16] if _BUILTIN.exists() else "unshipped"


def _neuron_key(decl, soft_reset: bool, detach_reset: bool) -> str:
    return f"neuron-{decl.name}-{decl.content_hash}-{'soft' if soft_reset else 'hard'}-{int(detach_reset)}"


def _surrogate_key(decl) -> str:
    return f"surrogate-{decl.name}-{decl.content_hash}"


MAX_CACHE_FILE_BYTES = 1 << 20  # a derived program is a few kB; a larger file is not one sj wrote
_untrusted_warned: list[str] = []


def _cache_dir() -> Path | None:
    """The derived-program cache directory, or ``None`` where there is none to trust (warned once) or to make."""
    try:
        return private_dir("derived", derivation_tag())
    except UntrustedCacheError as exc:
        if not _untrusted_warned:
            _untrusted_warned.append(str(exc))
            warnings.warn(f"sj: not using the derivation cache: {exc}", RuntimeWarning, stacklevel=4)
    except OSError:  # read-only home: derivations still work, they are only not cached on disk
        pass
    return None


def _from_cache(directory: Path, key: str, check) -> dict | None:
    """The valid program cached under ``key``; ``None`` (derive again) for a file that is absent, not the one sj
    wrote (no digest record, or another content: an older sj, an interrupted write), or invalid (with a warning)."""
    path = directory / f"{key}.json"
    try:
        data = read_verified(path, MAX_CACHE_FILE_BYTES)
        return None if data is None else check(json.loads(data.decode("utf-8")))
    except (ValueError, RecursionError) as exc:  # InvalidProgram, JSON and size errors are ValueErrors
        warnings.warn(f"sj: ignoring the derivation cache file {path}: {str(exc)[:300]}; deriving the program again "
                      "and overwriting the file", RuntimeWarning, stacklevel=5)
        return None


def _store(directory: Path, key: str, program: dict) -> None:
    """Publish ``program`` under ``key`` with its digest record (sj.cache.publish_bytes); best effort. Mode 0644: not
    secret, the directory is what keeps other users out."""
    try:
        publish_bytes(json.dumps(program).encode("utf-8"), directory / f"{key}.json")
    except OSError:
        pass


def _lookup(key: str, derive, check) -> dict:
    """The program stored under ``key``: ``check(program)`` returns it when valid, else raises InvalidProgram."""
    hit = _memory.get(key)  # no lock: dict operations are atomic and torch.compile traces this path
    if hit is not None:
        return hit
    found = _builtin().get(key)
    if found is not None:
        try:
            found = check(found)
        except InvalidProgram as exc:
            warnings.warn(f"sj: ignoring the invalid entry {key} of {_BUILTIN}: {exc}; deriving it again",
                          RuntimeWarning, stacklevel=4)
            found = None
    if found is None:
        directory = _cache_dir()
        found = _from_cache(directory, key, check) if directory is not None else None
        if found is None:
            found = check(derive())  # sj's own derivation: invalid only through a bug, which raises here
            if directory is not None:
                _store(directory, key, found)
    return _memory.setdefault(key, found)


def neuron_program(name: str, soft_reset: bool, detach_reset: bool) -> dict:
    """The derived programs of neuron ``name`` for one reset mode (see :func:`sj.neuron.derive.derive_neuron`)."""
    hit = _by_name.get(("neuron", name, soft_reset, detach_reset))
    if hit is not None:
        return hit
    decl = declaration.get(name)

    def derive() -> dict:
        from sj.neuron.derive import derive_neuron

        return derive_neuron(decl, soft_reset, detach_reset)

    return _by_name.setdefault(("neuron", name, soft_reset, detach_reset),
                               _lookup(_neuron_key(decl, soft_reset, detach_reset), derive,
                                       lambda p: check_neuron_program(p, decl, soft_reset, detach_reset)))


def surrogate_program(name: str) -> dict:
    """The derived programs of surrogate ``name`` (see :func:`sj.neuron.derive.derive_surrogate`)."""
    hit = _by_name.get(("surrogate", name))
    if hit is not None:
        return hit
    from sj.surrogate.declarations import surrogates

    decl = surrogates.get(name)

    def derive() -> dict:
        from sj.neuron.derive import derive_surrogate

        return derive_surrogate(decl)

    return _by_name.setdefault(("surrogate", name),
                               _lookup(_surrogate_key(decl), derive, lambda p: check_surrogate_program(p, decl)))


def builtin_derivations() -> dict[str, dict]:
    """Derive every built-in neuron (all reset modes) and surrogate afresh (imports sympy)."""
    import sj.neuron.builtin
    from sj.neuron.derive import derive_neuron, derive_surrogate
    from sj.surrogate.declarations import BUILTIN_SURROGATES, surrogates

    out: dict[str, dict] = {}
    for name in sj.neuron.builtin.BUILTIN_NEURONS:
        decl = declaration.get(name)
        for soft in (False, True):
            for detach in (False, True):
                out[_neuron_key(decl, soft, detach)] = derive_neuron(decl, soft, detach)
    for name in BUILTIN_SURROGATES:
        decl = surrogates.get(name)
        out[_surrogate_key(decl)] = derive_surrogate(decl)
    return out


def write_builtin_cache() -> Path:
    """Regenerate ``derived_builtin.json`` (run ``python -m sj.neuron.derive`` after changing a declaration)."""
    atomic_write(_BUILTIN, json.dumps(builtin_derivations(), indent=0, sort_keys=True) + "\n")
    _builtin.cache_clear()
    return _BUILTIN
