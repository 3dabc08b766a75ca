"""The hooks a plug-in may implement (pluggy project name ``"sj"``).

A plug-in is a module (or object) named by an entry point in the group ``sj``. It implements any subset of these
hooks with :data:`hookimpl`. Each hook returns a list of objects; the registry concatenates them. Keep hook bodies
cheap: return classes or small objects and defer heavy imports (CUDA, compilers) until they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from sj.backends.base import Backend
    from sj.cli.command import Command

PROJECT = "sj"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def sj_backends() -> list[Backend]:
    """Return multi-step neuron backends (instances of :class:`sj.backends.base.Backend`)."""


@hookspec
def sj_cli_commands() -> list[Command]:
    """Return subcommands for the ``sj`` console command (instances of :class:`sj.cli.command.Command`)."""


@hookspec
def sj_dataset_providers() -> list[Any]:
    """Return dataset providers: objects with ``name: str``, ``summary: str`` and ``factory`` (a callable or class
    building the dataset). Listed by ``sj datasets list`` when sj-datasets is installed."""


@hookspec
def sj_exchange_formats() -> list[Any]:
    """Return model exchange formats: objects with ``name: str``, ``export(net, example_input, **kw)`` and
    ``load(source, **kw)``. sj-nir contributes ``nir``."""
