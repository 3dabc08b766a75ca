"""sj plug-in (entry point ``datasets`` in group ``sj``): dataset providers and the ``sj datasets`` command.

Import-light: neither torch nor tonic is imported here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sj.cli.command import Command
from sj.plugins.hookspecs import hookimpl


@dataclass(frozen=True)
class DatasetProvider:
    """``name``, ``summary`` and ``factory(root, train=None, **kw)`` building a
    :class:`~sj.datasets.dataset.NeuromorphicDataset`."""

    name: str
    summary: str
    factory: Callable[..., Any]


def _factory(name: str) -> Callable[..., Any]:
    def build(root: Any, train: bool | None = None, **kwargs: Any) -> Any:
        from sj.datasets.dataset import NeuromorphicDataset

        return NeuromorphicDataset(name, root, train, **kwargs)

    build.__name__ = f"build_{name}"
    build.__doc__ = f"Build the {name} dataset: NeuromorphicDataset({name!r}, root, train, **kwargs)."
    return build


@hookimpl
def sj_dataset_providers() -> list[DatasetProvider]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_dataset_providers`): one provider per catalogued dataset."""
    from sj.datasets.catalog import SPECS

    return [DatasetProvider(s.name, s.summary, _factory(s.name)) for s in SPECS.values()]


@hookimpl
def sj_cli_commands() -> list[Command]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_cli_commands`): ``sj datasets``."""
    from sj.datasets.cli import add_arguments, run

    return [Command("datasets", "list, prepare and verify neuromorphic datasets (sj-datasets)", add_arguments, run)]
