"""The Chinese catalogs are complete: every message of every page translated, none fuzzy (pages listed in
docs/locales/zh_CN/pending.txt excepted, and a listed page must really be pending). Whether the catalogs are up to
date with the pages is checked by the zh_CN build (tests/docs/test_docs_build.py): a page message missing from its
catalog is a warning there."""

import sys
from pathlib import Path

from babel.messages.pofile import read_po

DOCS = Path(__file__).resolve().parents[2] / "docs"
CATALOGS = DOCS / "locales" / "zh_CN" / "LC_MESSAGES"
sys.path.insert(0, str(DOCS))

from _pagecode import pages  # noqa: E402
from _sjdocs import pending_translation  # noqa: E402

PENDING = pending_translation(DOCS, "zh_CN")


def _docname(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _gaps(po: Path) -> list[str]:
    with open(po, "rb") as fh:
        catalog = read_po(fh)
    return [("fuzzy: " if m.fuzzy else "empty: ") + m.id[:80] for m in catalog
            if m.id and (m.fuzzy or not m.string or not m.string.strip())]


def test_every_message_is_translated_and_none_is_fuzzy():
    gaps = {doc: _gaps(po) for po in sorted(CATALOGS.rglob("*.po"))
            if (doc := _docname(po, CATALOGS)) not in PENDING}
    gaps = {doc: g for doc, g in gaps.items() if g}
    assert not gaps, "untranslated or fuzzy messages (translate them, or list the page in pending.txt):\n" + "\n".join(
        f"  {doc}: {len(g)}, e.g. {g[0]}" for doc, g in gaps.items())


def test_every_page_has_a_catalog():
    sources = [*pages(), *DOCS.glob("api/*.rst")]
    missing = [doc for p in sources if (doc := _docname(p, DOCS)) not in PENDING
               and not (CATALOGS / f"{doc}.po").exists()]
    assert not missing, f"pages without a zh_CN catalog (run `hatch run docs:update-po`): {missing}"


def test_pending_pages_exist_and_are_incomplete():
    for doc in sorted(PENDING):
        assert (DOCS / f"{doc}.md").exists() or (DOCS / f"{doc}.rst").exists(), f"pending.txt names no page: {doc}"
        po = CATALOGS / f"{doc}.po"
        assert not po.exists() or _gaps(po), f"{doc} is fully translated: remove it from pending.txt"
