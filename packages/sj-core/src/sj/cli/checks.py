"""Command-line arguments checked before a subcommand starts: a mistake ends in one line naming it and what is
available (``SystemExit``: the message on stderr, exit status 1), never in a traceback or an empty result."""

from __future__ import annotations

from typing import NoReturn

import torch


def fail(command: str, message: str) -> NoReturn:
    """End subcommand ``command`` with ``sj <command>: <message>`` on stderr and exit status 1 (``SystemExit``)."""
    raise SystemExit(f"sj {command}: {message}")


def _backend_rows() -> dict:
    from sj.backends.registry import status

    return {r.name: r for r in status()}


def _available_text(rows: dict) -> str:
    available = [n for n, r in rows.items() if r.available]
    unavailable = [n for n, r in rows.items() if not r.available]
    return (f"available here: {', '.join(available) or 'none'}"
            + (f"; unavailable: {', '.join(unavailable)} (`sj backends` says why)" if unavailable else ""))


def backends(command: str, names: list[str]) -> list[str]:
    """``names`` if every one is a registered backend and at least one is available here; else :func:`fail`."""
    rows = _backend_rows()
    unknown = [n for n in names if n not in rows]
    if unknown:
        fail(command, f"unknown backend{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                      f"{_available_text(rows)}")
    if not any(rows[n].available for n in names):
        fail(command, f"no requested backend is available here: "
                      f"{'; '.join(f'{n}: {rows[n].reason}' for n in names)}; {_available_text(rows)}")
    return names


def backend(command: str, name: str) -> str:
    """``name`` if it is a registered backend available here; else :func:`fail`."""
    rows = _backend_rows()
    if name not in rows:
        fail(command, f"unknown backend {name!r}; {_available_text(rows)}")
    if not rows[name].available:
        fail(command, f"backend {name!r} is unavailable here: {rows[name].reason}; {_available_text(rows)}")
    return name


def device(command: str, text: str | None) -> torch.device:
    """The device ``text`` names (default: ``cuda`` if available, else ``cpu``), if this process can use it."""
    if text is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(text)
    except RuntimeError as exc:
        fail(command, f"--device {text!r} is not a device name ({str(exc).splitlines()[0]}); e.g. cpu, cuda, cuda:1")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            fail(command, f"--device {text}: CUDA is not available here (torch {torch.__version__}, "
                          f"CUDA build {torch.version.cuda}); use --device cpu")
        if dev.index is not None and dev.index >= count:
            fail(command, f"--device {text}: there {'is' if count == 1 else 'are'} only {count} CUDA device(s)")
    elif dev.type != "cpu":
        try:
            torch.empty(0, device=dev)
        except (RuntimeError, AssertionError) as exc:
            fail(command, f"--device {text} is not usable here: {str(exc).splitlines()[0]}")
    return dev


def at_least_one(command: str, **values: int | None) -> None:
    """Each named option (``batch_size`` for ``--batch-size``) is ``None`` or ``>= 1``."""
    for name, value in values.items():
        if value is not None and value < 1:
            fail(command, f"--{name.replace('_', '-')} must be >= 1, got {value}")
