"""Parallel, resumable preprocessing of a whole split into the frame cache, with a tqdm progress bar."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sj.datasets.catalog import get_spec
from sj.datasets.errors import CacheWriteError
from sj.datasets.params import FrameParams
from sj.datasets.paths import check_samples
from sj.datasets.pipeline import cache_for, cached_frames
from sj.datasets.spec import SampleRef


@dataclass
class PrepareReport:
    """Outcome of :func:`prepare`: counts of entries ``built`` and ``reused``, ``failed`` samples (key → error naming
    the file) and the cache ``directory``."""

    directory: Path
    total: int = 0
    built: int = 0
    reused: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def _one(spec_name: str, root: Path, split: str, params: FrameParams, cache_dir: Path | None, ref: SampleRef
         ) -> tuple[str, str, dict[str, Any] | None]:
    """Worker: ``(key, 'reused'|'built'|'failed', header or {'error': msg})``."""
    spec = get_spec(spec_name)
    cache = cache_for(spec, root, split, params, cache_dir)
    try:
        _, state = cached_frames(spec, ref, params, cache)
    except CacheWriteError:
        raise  # the cache, not this sample: prepare stops
    except Exception as exc:
        return ref.key, "failed", {"error": str(exc)}
    status, _, header = cache.check(ref)
    if status != "ok":
        return ref.key, "failed", {"error": f"{cache.path_of(ref)}: entry {status} right after writing"}
    return ref.key, "reused" if state == "ok" else "built", header


def prepare(spec_name: str, root: str | Path, split: str, params: FrameParams, *, samples: list[SampleRef],
            cache_dir: str | Path | None = None, num_workers: int | None = None, progress: bool = True
            ) -> PrepareReport:
    """Integrate and cache every sample of ``samples`` (from ``spec.samples(root, split)``; checked again here).

    Valid entries are reused, missing/corrupt/stale ones rebuilt; a failing sample is recorded (its error names the
    file) and the others continue. ``num_workers``: processes (default ``os.cpu_count()``; 0 = in this process).
    Ends by writing ``manifest.json``. Safe to kill at any point and run again. A cache that cannot be written
    (read-only, full) stops the run with :class:`~sj.datasets.errors.CacheWriteError`; entries and the manifest
    already on disk are left as they were.
    """
    spec = get_spec(spec_name)
    root = Path(root).expanduser()
    check_samples(root, samples)
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else None
    cache = cache_for(spec, root, split, params, cdir)
    try:
        cache.directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheWriteError(cache.directory, exc) from exc
    cache.remove_orphan_temporaries()
    report = PrepareReport(cache.directory, total=len(samples))
    entries: dict[str, dict[str, Any]] = {}
    workers = (os.cpu_count() or 1) if num_workers is None else num_workers

    from tqdm import tqdm

    bar = tqdm(total=len(samples), desc=f"{spec.name} [{split}]", unit="sample", disable=not progress)

    def record(key: str, state: str, info: dict[str, Any] | None) -> None:
        if state == "failed":
            report.failed[key] = info["error"]
        else:
            setattr(report, state, getattr(report, state) + 1)
            entries[key] = {"sha256": info["sha256"], "source": info["source"], "shape": info["shape"]}
        bar.update(1)

    try:
        if workers == 0:
            for ref in samples:
                record(*_one(spec.name, root, split, params, cdir, ref))
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = [pool.submit(_one, spec.name, root, split, params, cdir, ref) for ref in samples]
                try:
                    for fut in as_completed(futures):
                        record(*fut.result())
                except CacheWriteError:
                    pool.shutdown(cancel_futures=True)  # every other sample would fail the same way
                    raise
    finally:
        bar.close()
    cache.write_manifest(spec.name, split, entries, report.failed)
    return report
