"""Entry point of the ``sj`` console command."""

from __future__ import annotations

import argparse
import sys

from sj.plugins.registry import collect


def build_parser() -> argparse.ArgumentParser:
    """An argument parser with one subparser per registered :class:`~sj.cli.command.Command`."""
    parser = argparse.ArgumentParser(prog="sj", description="sj: spiking neural networks on PyTorch")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    seen: set[str] = set()
    for cmd in sorted(collect("sj_cli_commands"), key=lambda c: c.name):
        if cmd.name in seen:  # first registration wins; a plug-in cannot hijack a built-in command
            continue
        seen.add(cmd.name)
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``sj`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
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
