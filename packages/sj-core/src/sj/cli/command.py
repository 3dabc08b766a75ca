"""The shape of one ``sj`` subcommand, as plug-ins contribute it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One subcommand of ``sj``.

    ``add_arguments(parser)`` declares its options on an :class:`argparse.ArgumentParser`; ``run(args)`` executes it
    and returns the process exit code. A command may use sub-subcommands by adding subparsers itself.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
