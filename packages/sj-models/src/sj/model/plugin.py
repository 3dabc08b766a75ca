"""sj plug-in (entry point ``models`` in group ``sj``): the ``sj model`` and ``sj ann2snn`` commands.

Import-light: the zoo and the converter are imported only when a command runs."""

from __future__ import annotations

from sj.cli.command import Command
from sj.plugins.hookspecs import hookimpl


@hookimpl
def sj_cli_commands() -> list[Command]:
    from sj.model import cli

    return [cli.MODEL_COMMAND, cli.ANN2SNN_COMMAND]
