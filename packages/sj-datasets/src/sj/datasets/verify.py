"""``sj datasets verify``: archives against checksums, the layout, optionally every sample, and every cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sj.datasets.archives import verify_archive
from sj.datasets.cache import MANIFEST, SUFFIX, FrameCache
from sj.datasets.catalog import get_spec
from sj.datasets.errors import ChecksumError, DatasetFormatError, DatasetNotFoundError
from sj.datasets.pipeline import DEFAULT_CACHE_NAME, read_events


def verify(name: str, root: Path, *, cache_dir: Path | None = None, read_samples: bool = False,
           log: Callable[[str], None] = lambda s: None) -> list[str]:
    """Return the problems found (empty when everything checks out). Nothing is modified."""
    spec = get_spec(name)
    problems: list[str] = []
    for split in spec.splits:
        for res in spec.resources(split):
            path = root / res.filename
            if path.is_file():
                try:
                    verify_archive(path, res)
                    log(f"{path}: checksum OK")
                except ChecksumError as exc:
                    problems.append(str(exc))
        if not spec.present(root, split):
            problems.append(f"{spec.name} [{split}]: {root / spec.marker(split)} missing (layout: {spec.layout})")
            continue
        try:
            samples, _ = spec.samples(root, split)
        except (DatasetFormatError, DatasetNotFoundError) as exc:
            problems.append(str(exc))
            continue
        log(f"{spec.name} [{split}]: {len(samples)} samples")
        if read_samples:
            for ref in samples:
                try:
                    read_events(spec, ref)
                except DatasetFormatError as exc:
                    problems.append(str(exc))
        problems += _verify_caches(root, (cache_dir or root / DEFAULT_CACHE_NAME) / spec.name / split, samples, log)
    return problems


def _verify_caches(root: Path, split_dir: Path, samples: list, log: Callable[[str], None]) -> list[str]:
    problems: list[str] = []
    if not split_dir.is_dir():
        return problems
    for directory in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        manifest = FrameCache(directory, root, {}).read_manifest()
        if manifest is None:
            problems.append(f"{directory}: no readable {MANIFEST} (preparation interrupted? rerun prepare)")
            continue
        cache = FrameCache(directory, root, manifest["params"])
        bad = [f"{cache.path_of(ref)}: {state}" for ref in samples
               if (state := cache.check(ref)[0]) != "ok" and ref.key not in manifest["failed"]]
        extra = {p.relative_to(directory).as_posix()[:-len(SUFFIX)] for p in directory.rglob(f"*{SUFFIX}")} - \
            {r.key for r in samples}
        problems += bad + [f"{directory}: entry {k} has no sample" for k in sorted(extra)]
        problems += [f"{directory}: sample {k} failed during prepare: {e}" for k, e in manifest["failed"].items()]
        log(f"{directory}: {len(samples) - len(bad)} entries checked")
    return problems
