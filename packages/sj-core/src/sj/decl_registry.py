"""A name → declaration registry shared by neuron and surrogate declarations."""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar


class DeclarationError(ValueError):
    """A neuron or surrogate declaration is malformed, unknown, or clashes with a registered one."""


class _Declared(Protocol):
    name: str

    @property
    def content_hash(self) -> str: ...


D = TypeVar("D", bound=_Declared)


class DeclRegistry(Generic[D]):
    """Declarations by name. Identical re-registration is a no-op; new content under a taken name is an error,
    so two declarations never share derived code or compiled kernels by accident."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._lock = threading.Lock()
        self._items: dict[str, D] = {}

    def register(self, decl: D) -> D:
        with self._lock:
            old = self._items.get(decl.name)
            if old is not None and old.content_hash != decl.content_hash:
                raise DeclarationError(f"a different {self.kind} is already registered as {decl.name!r}; "
                                       "choose another name")
            self._items[decl.name] = decl
        return decl

    def get(self, name: str) -> D:
        try:
            return self._items[name]
        except KeyError:
            raise DeclarationError(f"no {self.kind} declaration named {name!r}; known: {sorted(self._items)}"
                                   ) from None

    def names(self) -> list[str]:
        return sorted(self._items)
