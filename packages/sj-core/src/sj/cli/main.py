"""Entry point of the ``sj`` console command."""

from __future__ import annotations

import argparse
import sys

from sj.cli.command import Command
from sj.plugins.registry import collect

# Subcommands that plug-in packages contribute, so that asking for one whose package is absent says what to install
# (sj-core never imports a plug-in; it only knows the package names).
PLUGIN_COMMANDS = {"model": "sj-models", "ann2snn": "sj-models", "datasets": "sj-datasets", "nir": "sj-nir"}


def registered_commands() -> dict[str, Command]:
    """Every subcommand contributed through the ``sj_cli_commands`` hook, by name (the first registration wins, so a
    plug-in cannot hijack a built-in command)."""
    commands: dict[str, Command] = {}
    for cmd in sorted(collect("sj_cli_commands"), key=lambda c: c.name):
        commands.setdefault(cmd.name, cmd)
    return commands


def missing_command_message(name: str) -> str:
    """Why ``sj <name>`` is not available: the package that contributes it, or that no such command exists."""
    if name in PLUGIN_COMMANDS:
        package = PLUGIN_COMMANDS[name]
        return (f"'sj {name}' is contributed by the {package} package, which is not installed or did not load "
                f"(see 'sj info'): pip install {package}")
    return f"unknown command {name!r}; see 'sj --help'"


def build_parser(commands: dict[str, Command] | None = None) -> argparse.ArgumentParser:
    """An argument parser with one subparser per command of ``commands`` (default: every registered
    :class:`~sj.cli.command.Command`)."""
    parser = argparse.ArgumentParser(prog="sj", description="sj: spiking neural networks on PyTorch")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in (registered_commands() if commands is None else commands).values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``sj`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = registered_commands()  # the plug-in hook runs once per invocation
    if argv and argv[0] in PLUGIN_COMMANDS and argv[0] not in commands:
        print(f"sj: {missing_command_message(argv[0])}", file=sys.stderr)
        return 2
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    from sj.backends.registry import BackendError
    from sj.cache import UntrustedCacheError

    try:
        return int(args._run(args) or 0)
    except (BackendError, UntrustedCacheError) as exc:  # a clear message already: one line, not a traceback
        print(f"sj {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
