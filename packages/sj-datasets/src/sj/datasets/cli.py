"""``sj datasets list|prepare|verify`` — one :class:`sj.cli.command.Command` with sub-subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``list``, ``prepare`` and ``verify``."""
    sub = parser.add_subparsers(dest="datasets_action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="list the datasets sj-datasets provides")

    prep = sub.add_parser("prepare", help="integrate every sample into cached frames (parallel, resumable)")
    prep.add_argument("name", help="dataset name, see 'sj datasets list'")
    prep.add_argument("--root", required=True, type=Path, help="folder holding the dataset files")
    prep.add_argument("--split", action="append", help="split to prepare (repeatable; default: all splits)")
    mode = prep.add_mutually_exclusive_group(required=True)
    mode.add_argument("--frames", type=int, help="fixed number of frames per sample")
    mode.add_argument("--duration", type=int, help="fixed frame duration in µs (variable T)")
    prep.add_argument("--split-by", choices=("number", "time"), default="number", help="with --frames (default number)")
    prep.add_argument("--windows", choices=("greedy", "grid"),
                      help="window rule with --duration (default grid, SpikingJelly 2.0's)")
    prep.add_argument("--unsorted", choices=("raise", "sort"), default="raise",
                      help="what to do with decreasing timestamps (default raise)")
    prep.add_argument("--cache-dir", type=Path, help="cache folder (default ROOT/sj_cache)")
    prep.add_argument("--workers", type=int, help="worker processes (default: CPU count; 0 = in process)")
    prep.add_argument("--download", action="store_true", help="download missing archives")
    prep.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    ver = sub.add_parser("verify", help="check archives' checksums, the file layout, samples and caches")
    ver.add_argument("name")
    ver.add_argument("--root", required=True, type=Path)
    ver.add_argument("--cache-dir", type=Path, help="cache folder (default ROOT/sj_cache)")
    ver.add_argument("--read-samples", action="store_true", help="also read every raw sample")


def _list() -> int:
    from sj.datasets.catalog import SPECS

    width = max(len(n) for n in SPECS)
    for spec in SPECS.values():
        print(f"{spec.name:<{width}}  {spec.summary}")
        print(f"{'':<{width}}  splits: {', '.join(spec.splits)}; files: {spec.layout}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from sj.datasets.archives import ensure_available
    from sj.datasets.catalog import get_spec
    from sj.datasets.params import FrameParams
    from sj.datasets.prepare import prepare

    spec = get_spec(args.name)
    root = args.root.expanduser()
    params = FrameParams(frames_number=args.frames, split_by=args.split_by if args.frames else None,
                         duration=args.duration, windows=args.windows, unsorted=args.unsorted)
    status = 0
    for split in args.split or spec.splits:
        ensure_available(spec, root, spec.split_of(None, split), args.download)
        samples, _ = spec.samples(root, split)
        report = prepare(spec.name, root, split, params, samples=samples, cache_dir=args.cache_dir,
                         num_workers=args.workers, progress=not args.no_progress)
        print(f"{spec.name} [{split}]: {report.total} samples, {report.built} built, {report.reused} reused, "
              f"{len(report.failed)} failed -> {report.directory}")
        for key, error in sorted(report.failed.items()):
            print(f"  FAILED {key}: {error}", file=sys.stderr)
        status = status or (1 if report.failed else 0)
    return status


def _verify(args: argparse.Namespace) -> int:
    from sj.datasets.verify import verify

    problems = verify(args.name, args.root.expanduser(), cache_dir=args.cache_dir, read_samples=args.read_samples,
                      log=print)
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; errors naming the problem (a bad file, an unwritable cache or root) exit with
    status 1 and one line on stderr, never a traceback."""
    from sj.datasets.errors import CacheWriteError, ChecksumError, DatasetFormatError

    try:
        if args.datasets_action == "list":
            return _list()
        if args.datasets_action == "prepare":
            return _prepare(args)
        return _verify(args)
    except CacheWriteError as exc:
        print(f"error: {exc}. Make it writable or free space (or pass --cache-dir DIR), then run the same command "
              "again: it resumes.", file=sys.stderr)
        return 1
    except (DatasetFormatError, ChecksumError, KeyError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
