"""SpikingJelly 2.0.0 as the oracle of the parity tests: import it, or skip with the reason.

SpikingJelly is installed without its dependencies (``pip install --no-deps spikingjelly==2.0.0``): its
torchvision/torchaudio requirements do not load beside the CPU build of torch. Modules that import them get a stub
that raises on use, so only the pieces of SpikingJelly that need them are unavailable.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

import pytest

SJ_VERSION = "2.0.0"


class _Missing(types.ModuleType):
    """A stand-in module: importing names from it works (SpikingJelly imports them at the top of its modules), using
    one raises ImportError."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        where = f"{self.__name__}.{attr}"

        def unavailable(*args, **kwargs):
            raise ImportError(f"{where} is stubbed in sj's parity tests (it does not load beside this torch)")

        return type(attr, (), {"__init__": unavailable, "__module__": self.__name__})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``name`` and every ``name.sub`` to :class:`_Missing` modules."""

    def __init__(self, roots: tuple[str, ...]) -> None:
        self.roots = roots

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        mod = _Missing(spec.name)
        mod.__path__ = []
        return mod

    def exec_module(self, module) -> None:
        pass


def _loads(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except Exception:  # absent, or present but unloadable beside this torch
        sys.modules.pop(name, None)
        return False


def _stub_missing() -> None:
    """Stub torchvision/torchaudio (and torch's tensorboard writer) where they do not load."""
    roots = tuple(n for n in ("torchvision", "torchaudio") if n in sys.modules or not _loads(n))
    if roots and not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder(roots))
    if "torch.utils.tensorboard" not in sys.modules and not _loads("tensorboard"):
        sys.modules["torch.utils.tensorboard"] = _Missing("torch.utils.tensorboard")


def spikingjelly(module: str = "activation_based"):
    """``spikingjelly.<module>`` (2.0.0), or ``pytest.skip`` naming why it is unavailable."""
    try:
        import spikingjelly
    except ImportError:
        pytest.skip(f"SpikingJelly {SJ_VERSION} is not installed (pip install --no-deps spikingjelly=={SJ_VERSION})")
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        version = dist_version("spikingjelly")
    except PackageNotFoundError:
        version = getattr(spikingjelly, "__version__", None)
    if version != SJ_VERSION:
        pytest.skip(f"SpikingJelly {version} is installed; the parity tests compare against {SJ_VERSION}")
    _stub_missing()
    try:
        return importlib.import_module(f"spikingjelly.{module}")
    except ImportError as exc:
        pytest.skip(f"spikingjelly.{module} does not import here: {exc}")
