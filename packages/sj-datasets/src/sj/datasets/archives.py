"""Offline-first availability: use what is in ``root``, verify archives, download only when asked.

Order of preference for a split: (1) the extracted files (the spec's marker path exists) are used as they are;
(2) the published archives present in ``root`` are verified against their MD5 and extracted (into a temporary
folder, then moved into place, so an interrupted extraction leaves nothing half-done); (3) with ``download=True``
only, the missing archives are downloaded (with tonic's downloader) and then treated as in (2).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

from sj.datasets.errors import ChecksumError, DatasetNotFoundError
from sj.datasets.spec import DatasetSpec, Resource


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """Hex MD5 of a file, read in chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_archive(path: Path, resource: Resource) -> None:
    """Raise :class:`ChecksumError` (file, expected and actual hash, URL) unless ``path`` has ``resource.md5``."""
    actual = md5sum(path)
    if actual != resource.md5:
        raise ChecksumError(path, resource.md5, actual, resource.url)


def _unpack(archive: Path, dest: Path) -> None:
    name = archive.name.lower()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)  # zipfile drops absolute paths and '..' parts, and creates no links
    elif tarfile.is_tarfile(archive):
        if not hasattr(tarfile, "data_filter"):  # PEP 706: refuses links and paths out of dest, devices, setuid
            raise RuntimeError(f"{archive}: this Python (before 3.10.12 / 3.11.4) cannot extract tar archives "
                               "safely; extract it yourself into the root folder, or upgrade Python")
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    elif name.endswith(".gz"):
        with gzip.open(archive, "rb") as src, open(dest / archive.name[:-3], "wb") as out:
            shutil.copyfileobj(src, out)
    else:
        raise ValueError(f"{archive}: not a zip, tar or gzip archive sj can extract; extract it yourself into "
                         f"{dest.parent if dest.name.startswith('.extracting-') else dest}")


def extract(archive: Path, root: Path, nested: tuple[str, ...] = (), nested_into_stem: bool = False) -> None:
    """Extract ``archive`` into ``root`` through a temporary folder; then extract archives matching ``nested``
    (beside themselves, or each into a folder named after it with ``nested_into_stem``).

    Entries that already exist in ``root`` are kept (never overwritten)."""
    tmp = root / f".extracting-{archive.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        _unpack(archive, tmp)
        for pattern in nested:
            for inner in sorted(tmp.rglob(pattern)):
                dest = inner.with_name(inner.name.split(".")[0]) if nested_into_stem else inner.parent
                dest.mkdir(exist_ok=True)
                _unpack(inner, dest)
                inner.unlink()
        for entry in sorted(tmp.iterdir()):
            target = root / entry.name
            if not target.exists():
                os.replace(entry, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _download(resource: Resource, root: Path) -> None:
    """Download ``resource`` into ``root`` with tonic's downloader, which checks ``resource.md5`` (none when it is
    ``None``, as :class:`~sj.datasets.folder.NeuromorphicDatasetFolder`'s ``resource_url_md5`` allows)."""
    from tonic.download_utils import download_url  # lazy: only when a download is needed

    download_url(resource.url, str(root), filename=resource.filename, md5=resource.md5)


def ensure_available(spec: DatasetSpec, root: Path, split: str, download: bool = False) -> None:
    """Make ``split`` of ``spec`` usable under ``root`` (see the module docstring). Raises
    :class:`DatasetNotFoundError` naming the expected layout, archives and URLs when nothing usable is there."""
    if spec.present(root, split):
        return
    resources = spec.resources(split)
    missing = [r for r in resources if not (root / r.filename).is_file()]
    if missing and not download:
        listing = "; ".join(f"{r.filename} (md5 {r.md5}) from {r.url}" for r in missing)
        raise DatasetNotFoundError(
            f"{spec.name} [{split}] not found under {root}: expected extracted files ({spec.layout}) or the archives "
            f"{listing}. Place them there, or pass download=True to fetch them.")
    root.mkdir(parents=True, exist_ok=True)
    for r in missing:
        _download(r, root)
    for r in resources:
        verify_archive(root / r.filename, r)
        if r.extract:
            extract(root / r.filename, root, r.nested, r.nested_into_stem)
    if not spec.present(root, split):
        raise DatasetNotFoundError(f"{spec.name}: after extracting {[r.filename for r in resources]}, "
                                   f"{root / spec.marker(split)} is still missing (expected layout: {spec.layout})")
