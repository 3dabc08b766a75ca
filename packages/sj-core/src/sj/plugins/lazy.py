"""Lazy module exports (PEP 562), so a package's ``import`` and a plug-in's entry point stay cheap.

The plug-in registry imports every installed plug-in's entry-point module to collect its hooks; a plug-in package
whose ``__init__`` imported its heavy dependencies (h5py, nir, tonic, ...) would make every first use of any backend
pay for them. Such a package lists its public names here instead and imports each on first access.
"""

from __future__ import annotations

import importlib
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: dict[str, str]) -> None:
    """Make the module whose globals are ``namespace`` export ``exports`` (``{name: module that defines it}``) on first
    access: installs the module's ``__getattr__``, ``__dir__`` and ``__all__``."""
    owner = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {owner!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    namespace.update(__getattr__=__getattr__, __dir__=__dir__, __all__=sorted(exports))
