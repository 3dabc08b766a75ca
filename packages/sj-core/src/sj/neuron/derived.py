"""Cached derivations: the forward/backward programs of neurons and surrogates, without importing sympy.

Lookup order: memory → ``derived_builtin.json`` shipped with sj-core (every built-in neuron and surrogate) → the
user cache (``$SJ_CACHE_DIR`` or ``~/.cache/sj``, ``derived/<key>.json``) → derive with sympy and write the user
cache atomically (temporary file + rename, safe under concurrent processes).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from sj.cache import atomic_write, cache_root
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


def _neuron_key(decl, soft_reset: bool, detach_reset: bool) -> str:
    return f"neuron-{decl.name}-{decl.content_hash}-{'soft' if soft_reset else 'hard'}-{int(detach_reset)}"


def _surrogate_key(decl) -> str:
    return f"surrogate-{decl.name}-{decl.content_hash}"


def _lookup(key: str, derive) -> dict:
    hit = _memory.get(key)  # no lock: dict operations are atomic and torch.compile traces this path
    if hit is not None:
        return hit
    found = _builtin().get(key)
    if found is None:
        path = cache_root() / "derived" / f"{key}.json"
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):  # absent or torn: derive again and overwrite
            found = derive()
            try:
                atomic_write(path, json.dumps(found))
            except OSError:
                pass  # read-only home: the derivation still works, it is only not cached on disk
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
                               _lookup(_neuron_key(decl, soft_reset, detach_reset), derive))


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

    return _by_name.setdefault(("surrogate", name), _lookup(_surrogate_key(decl), derive))


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
