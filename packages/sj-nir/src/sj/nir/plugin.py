"""sj plug-in: the ``nir`` exchange format and the ``sj nir`` command (entry point ``nir`` in group ``sj``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sj.cli.command import Command
from sj.plugins.hookspecs import hookimpl


@dataclass(frozen=True)
class ExchangeFormat:
    """A model exchange format: ``export(net, example_input, **kw)`` and ``load(source, **kw)``."""

    name: str
    summary: str
    export: Any
    load: Any


def _export(net, example_input, **kw):
    from sj.nir.exporter import export

    return export(net, example_input, **kw)


def _load(source, **kw):
    from sj.nir.importer import load

    return load(source, **kw)


def _add_arguments(parser):
    from sj.nir.cli import add_arguments

    add_arguments(parser)


def _run(args) -> int:
    from sj.nir.cli import main

    return main(args)


@hookimpl
def sj_exchange_formats() -> list[ExchangeFormat]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_exchange_formats`): the ``nir`` format."""
    return [ExchangeFormat("nir", "Neuromorphic Intermediate Representation (nir.NIRGraph / .nir files)", _export,
                           _load)]


@hookimpl
def sj_cli_commands() -> list[Command]:
    """Hook implementation (:func:`sj.plugins.hookspecs.sj_cli_commands`): ``sj nir``."""
    return [Command("nir", "NIR files: inspect, convert (to sj semantics), run (check against the golden record)",
                    _add_arguments, _run)]
