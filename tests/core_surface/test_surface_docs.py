"""Every ```python block of the user-guide pages runs (blocks of one page share a namespace, in order)."""

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["getting_started", "concepts", "neurons", "surrogates", "layers", "rnn", "quantize", "encoding", "monitors",
         "functional", "stdp", "online_learning", "custom_neuron", "backend_plugin", "migrating"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_every_guide_page_is_listed_and_has_code():
    index = (DOCS / "index.md").read_text()
    for page in PAGES:
        assert page in index, f"{page} missing from the index toctree"
        assert BLOCK.search((DOCS / f"{page}.md").read_text()), f"{page}.md has no runnable python block"


@pytest.mark.parametrize("page", PAGES)
def test_docs_page_code_runs(page, tmp_path):
    blocks = BLOCK.findall((DOCS / f"{page}.md").read_text())
    namespace: dict = {"__name__": f"docs_{page}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"{DOCS / page}.md[block {i}]", "exec"), namespace)
    finally:
        os.chdir(cwd)
