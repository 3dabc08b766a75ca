"""sj plug-in (entry point ``models`` in group ``sj``): the ``sj model`` and ``sj ann2snn`` commands.

Import-light: the zoo and the converter are imported only when a command runs."""

from __future__ import annotations

from sj.cli.command import Command
from sj.plugins.hookspecs import hookimpl


@hookimpl
def sj_cli_commands() -> list[Command]:
    """The commands sj-models adds to the ``sj`` command line: ``sj model list`` (the zoo's catalogue) and
    ``sj ann2snn demo`` (train, convert and compare a small CNN); their modules are imported only here, when the
    command line is built."""
    from sj.model import cli

    return [cli.MODEL_COMMAND, cli.ANN2SNN_COMMAND]
