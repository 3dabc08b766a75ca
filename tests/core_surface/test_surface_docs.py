"""Every ```python block of every docs page runs (the blocks of a page share one namespace, in order; a block marked
``% exec-needs: ...`` skips, with the reason, where that is missing). Pages are found, not listed: a new page is
tested as soon as it exists. The results are cached (docs/_pagecode.py), so the docs build of the same test run shows
them without running the code again."""

import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
sys.path.insert(0, str(DOCS))

from _pagecode import page_blocks, pages, run_page_cached  # noqa: E402

CODE_PAGES = [p for p in pages() if page_blocks(p.read_text(encoding="utf-8"))]


def test_pages_are_found_wherever_they_are():
    found = {p.relative_to(DOCS).as_posix() for p in CODE_PAGES}
    assert {"getting_started.md", "neurons.md", "tutorials/neuron.md", "tutorials/stdp.md"} <= found
    assert not any(part.startswith("_build") for p in found for part in p.split("/"))


@pytest.mark.parametrize("page", CODE_PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_docs_page_code_runs(page):
    result = run_page_cached(page)
    if result.stopped:
        pytest.skip(f"{page.relative_to(DOCS)}: {result.stopped}")
